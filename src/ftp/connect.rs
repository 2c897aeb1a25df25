//! A TCP connect that is started now and waited for later, so a data
//! connection's handshake overlaps the transfer command on the control
//! connection without a thread per transfer.

use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

/// A TCP connection whose SYN went out; [`Connecting::finish`] waits for it.
pub(crate) struct Connecting(TcpStream);

impl Connecting {
    /// Starts connecting to `addr` without waiting.
    pub(crate) fn start(addr: SocketAddr) -> io::Result<Connecting> {
        let domain = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        // SAFETY: plain socket(2); the descriptor is owned by the TcpStream
        // right after, which closes it on every path.
        let fd = unsafe {
            libc::socket(
                domain,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh socket that nothing else owns.
        let sock = unsafe { TcpStream::from_raw_fd(fd) };
        let r = match addr {
            SocketAddr::V4(a) => {
                let sa = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sa` is a valid sockaddr_in of the length given.
                unsafe {
                    libc::connect(
                        fd,
                        (&sa as *const libc::sockaddr_in).cast(),
                        size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            SocketAddr::V6(a) => {
                let sa = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: `sa` is a valid sockaddr_in6 of the length given.
                unsafe {
                    libc::connect(
                        fd,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        Ok(Connecting(sock))
    }

    /// Waits at most `timeout` for the connection; returns it blocking.
    pub(crate) fn finish(self, timeout: Duration) -> io::Result<TcpStream> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ));
            }
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd, count 1.
            match unsafe { libc::poll(&mut pfd, 1, ms) } {
                n if n > 0 => break,
                0 => {}
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
        if let Some(e) = self.0.take_error()? {
            return Err(e);
        }
        self.0.set_nonblocking(false)?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn connects_and_carries_data_both_ways() {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = TcpListener::bind(bind) else {
                continue; // no IPv6 on this host
            };
            let addr = listener.local_addr().unwrap();
            let c = Connecting::start(addr).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            let mut sock = c.finish(Duration::from_secs(10)).unwrap();
            assert_eq!(sock.peer_addr().unwrap(), addr);
            sock.write_all(b"ping").unwrap();
            let mut got = [0u8; 4];
            server.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            server.write_all(b"pong").unwrap();
            // Blocking again: read_exact waits instead of failing WouldBlock.
            sock.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"pong");
        }
    }

    #[test]
    fn a_refused_connection_is_an_error() {
        // A port that was just free: nobody listens there.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = Connecting::start(addr)
            .and_then(|c| c.finish(Duration::from_secs(10)))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    }
}
