//! The FTPS control connection: login, commands, and opening data transfers.

use super::command::Command;
use super::connect::Connecting;
use super::data::DataConn;
use super::error::{Error, Result};
use super::features::Features;
use super::hash::{self, HashAlg, HashMethod};
use super::reply::{take_line, Reply, ReplyParser};
use super::tls::{self, SessionStore};
use super::tls_stream::TlsStream;
use crate::names::Charset;
use log::{debug, trace};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `command` of an [`Error::Reply`] refusing a data connection after its
/// TLS handshake (rather than refusing the transfer command itself).
pub const DATA_CONNECTION: &str = "data connection";

/// Commands sent ahead of their replies, at most ([`Control::mdtm_many`]):
/// their replies (about 30 bytes each) fit in any socket buffer, so neither
/// side can block the other.
pub const PIPELINE: usize = 128;

/// How TLS starts on the control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsStart {
    /// Plain TCP, then `AUTH TLS` (RFC 4217), usually on port 21.
    Explicit,
    /// TLS from the first byte, usually on port 990.
    Implicit,
}

/// Data channel protection level (RFC 4217 section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protection {
    /// `PROT P`: every data connection uses TLS. The default.
    #[default]
    Private,
    /// `PROT C`: data connections without TLS, readable and alterable by
    /// anyone on the path. Only ever used when the user asks for it.
    Clear,
}

/// Who opens data connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataMode {
    /// EPSV (or PASV): we connect to the server. The default.
    #[default]
    Passive,
    /// PORT (IPv4) or EPRT (IPv6): the server connects to a port we listen
    /// on at the control connection's local address. We are still the TLS
    /// client on the accepted connection (RFC 4217 section 6).
    Active,
}

/// When the security commands are sent (RFC 4217 section 9.3: the user must
/// be able to change their timing to suit a server).
#[derive(Debug, Clone, Default)]
pub struct Sequence {
    /// Commands sent right after the greeting, before `AUTH TLS` (so in
    /// plaintext with explicit TLS), e.g. a `SITE` command a server wants
    /// first. Login commands are refused here.
    pub before_auth: Vec<Command>,
    /// Send `PBSZ 0` and `PROT` before `USER`/`PASS` instead of after login.
    pub protect_before_login: bool,
}

/// Everything needed to open and log in a control connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Host name or IP address; also the name the certificate must carry.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Explicit or implicit TLS.
    pub tls_start: TlsStart,
    /// Shared TLS settings; each connection gets its own resumption store.
    pub tls: Arc<ClientConfig>,
    /// TLS sessions of earlier control connections made with these
    /// options (clones share it), so that a reconnect resumes one.
    pub sessions: Arc<SessionStore>,
    /// Connect, read and write timeout for every socket.
    pub timeout: Duration,
    /// Data connection protection (PROT P unless the user chose otherwise).
    pub protection: Protection,
    /// Passive or active data connections.
    pub data_mode: DataMode,
    /// Timing of AUTH, PBSZ and PROT relative to other commands.
    pub sequence: Sequence,
    /// How paths are written on the wire (`-o iocharset=`; UTF-8 by
    /// default). Without UTF-8, `OPTS UTF8 ON` is not sent.
    pub charset: Charset,
}

impl ConnectOptions {
    /// Options with the secure defaults: PROT P, passive data connections,
    /// AUTH first and PBSZ/PROT right after login.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        tls_start: TlsStart,
        tls: Arc<ClientConfig>,
        timeout: Duration,
    ) -> ConnectOptions {
        ConnectOptions {
            host: host.into(),
            port,
            tls_start,
            tls,
            sessions: Arc::default(),
            timeout,
            protection: Protection::default(),
            data_mode: DataMode::default(),
            sequence: Sequence::default(),
            charset: Charset::default(),
        }
    }
}

/// Where a data connection will come from, between asking for it and the
/// server's 1xx reply.
enum Pending {
    /// Passive: we connect to the server here.
    Connecting(SocketAddr),
    /// Active: the server will connect here.
    Listening(TcpListener),
}

/// A data connection between its TCP connect and the end of its TLS handshake.
enum Opening {
    /// No TLS (`PROT C`).
    Clear(TcpStream),
    /// Our ClientHello went out.
    Tls(Box<TlsStream>),
}

impl Opening {
    fn shutdown(&self) {
        let sock = match self {
            Opening::Clear(s) => s,
            Opening::Tls(t) => &t.sock,
        };
        let _ = sock.shutdown(Shutdown::Both);
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Facts about an established control connection, for diagnostics.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The 220 greeting.
    pub banner: String,
    /// Negotiated TLS version.
    pub tls_version: String,
    /// Negotiated cipher suite.
    pub cipher: String,
}

/// One logged-in FTPS control connection.
pub struct Control {
    stream: Stream,
    /// Bytes received but not yet consumed as reply lines.
    inbuf: Vec<u8>,
    peer: SocketAddr,
    server_name: ServerName<'static>,
    /// For data connections (resuming this session).
    tls_config: Arc<ClientConfig>,
    /// For this connection's own handshake.
    control_tls: Arc<ClientConfig>,
    store: Arc<SessionStore>,
    /// The mount's store, which gets the tickets left when this ends.
    sessions: Arc<SessionStore>,
    peer_cert: Option<CertificateDer<'static>>,
    timeout: Duration,
    features: Features,
    info: SessionInfo,
    protection: Protection,
    data_mode: DataMode,
    protect_before_login: bool,
    /// How paths go on the wire.
    charset: Charset,
    epsv_refused: bool,
    /// The algorithm `HASH` uses on this connection (FEAT's `*`, or the
    /// last `OPTS HASH`).
    hash_current: Option<HashAlg>,
    /// A transfer was started and not finished, or an error left the state unknown.
    broken: bool,
    last_used: Instant,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("peer", &self.peer)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::Io(io::Error::new(
                e.kind(),
                format!("cannot resolve {host}: {e}"),
            ))
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Error::from_io(
            io::Error::new(
                e.kind(),
                format!("cannot connect to {host} port {port}: {e}"),
            ),
            "connect",
        ),
        None => Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        )),
    })
}

/// A failed connect of a passive data connection to `addr`.
fn data_connect_error(addr: SocketAddr, e: io::Error) -> Error {
    Error::from_io(
        io::Error::new(e.kind(), format!("data connection to {addr}: {e}")),
        "data connect",
    )
}

/// Runs a TLS handshake to completion on a blocking socket.
fn handshake(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    mut sock: TcpStream,
) -> Result<StreamOwned<ClientConnection, TcpStream>> {
    let conn = send_client_hello(config, name, &mut sock)?;
    finish_handshake(conn, sock)
}

/// Starts a TLS handshake: sends the ClientHello.
fn send_client_hello(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    sock: &mut TcpStream,
) -> Result<ClientConnection> {
    let mut conn = ClientConnection::new(config, name)?;
    while conn.wants_write() {
        conn.write_tls(sock)
            .map_err(|e| Error::from_io(e, "TLS handshake"))?;
    }
    Ok(conn)
}

/// Completes a TLS handshake whose ClientHello went out.
fn finish_handshake(
    mut conn: ClientConnection,
    mut sock: TcpStream,
) -> Result<StreamOwned<ClientConnection, TcpStream>> {
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            return Err(Error::from_io(e, "TLS handshake"));
        }
    }
    Ok(StreamOwned::new(conn, sock))
}

impl Control {
    /// Connects, secures the connection with TLS and reads the greeting.
    ///
    /// With explicit TLS, the only command sent before TLS is `AUTH TLS`; a
    /// reply other than 234 ends the session with an unprotected QUIT
    /// (RFC 4217 section 9.3) and never continues in plaintext.
    pub fn connect(opts: &ConnectOptions) -> Result<Control> {
        let sock = connect_tcp(&opts.host, opts.port, opts.timeout)?;
        let peer = sock.peer_addr()?;
        let server_name = ServerName::try_from(opts.host.clone())
            .map_err(|_| Error::Protocol(format!("invalid server name {:?}", opts.host)))?;
        let session = tls::session_config(&opts.tls, &opts.sessions);
        let mut control = Control {
            stream: Stream::Plain(sock),
            inbuf: Vec::new(),
            peer,
            server_name,
            tls_config: session.data,
            control_tls: session.control,
            store: session.store,
            sessions: opts.sessions.clone(),
            peer_cert: None,
            timeout: opts.timeout,
            features: Features::default(),
            info: SessionInfo {
                banner: String::new(),
                tls_version: String::new(),
                cipher: String::new(),
            },
            protection: opts.protection,
            data_mode: opts.data_mode,
            protect_before_login: opts.sequence.protect_before_login,
            charset: opts.charset,
            epsv_refused: false,
            hash_current: None,
            broken: false,
            last_used: Instant::now(),
        };
        if opts.tls_start == TlsStart::Implicit {
            control.start_tls()?;
        }
        let banner = control.read_reply()?;
        if banner.code != 220 {
            return Err(Error::Reply {
                command: "connect",
                code: banner.code,
                text: banner.text(),
            });
        }
        control.info.banner = banner.text();
        for cmd in &opts.sequence.before_auth {
            if matches!(cmd.verb(), "USER" | "PASS" | "ACCT") {
                control.shutdown();
                return Err(Error::InvalidArgument(
                    "login commands cannot be sent before AUTH TLS",
                ));
            }
            let reply = control.command(cmd)?;
            if reply.code >= 400 {
                let _ = control.send(&Command::new("QUIT"));
                control.shutdown();
                return Err(Error::Reply {
                    command: cmd.verb(),
                    code: reply.code,
                    text: reply.text(),
                });
            }
        }
        if opts.tls_start == TlsStart::Explicit {
            let reply = control.command(&Command::with_arg("AUTH", "TLS")?)?;
            if reply.code != 234 {
                // 9.3: TLS failed completely; end the session with an unprotected QUIT.
                let _ = control.send(&Command::new("QUIT"));
                control.shutdown();
                return Err(Error::TlsRefused {
                    code: reply.code,
                    text: reply.text(),
                });
            }
            // Anything the server sent after 234 but before the handshake
            // would be plaintext injected into the secure session.
            if !control.inbuf.is_empty() {
                control.shutdown();
                return Err(Error::Protocol(
                    "server sent data after 234 before the TLS handshake".into(),
                ));
            }
            control.start_tls()?;
        }
        Ok(control)
    }

    fn start_tls(&mut self) -> Result<()> {
        let sock = match &self.stream {
            Stream::Plain(s) => s.try_clone()?,
            Stream::Tls(_) => return Err(Error::Protocol("TLS already active".into())),
        };
        // On failure the socket is dropped: the state is unknown (9.3).
        let tls = match handshake(self.control_tls.clone(), self.server_name.clone(), sock) {
            Ok(t) => t,
            Err(e) => {
                self.shutdown();
                return Err(e);
            }
        };
        self.peer_cert = tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.clone().into_owned());
        self.info.tls_version = tls
            .conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        self.info.cipher = tls
            .conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default();
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// Logs in: USER, then PASS on 331 (232/230 mean no password is needed),
    /// then reads FEAT and prepares binary, protected transfers:
    /// `PBSZ 0`, `PROT P`, `TYPE I`, and `OPTS UTF8 ON` when listed (and
    /// the names are UTF-8: not with `iocharset=`).
    /// `PBSZ`/`PROT` come before `USER` when the sequence asks for it.
    pub fn login(&mut self, user: &str, password: &str) -> Result<()> {
        if self.protect_before_login {
            self.protect()?;
        }
        let reply = self.command(&Command::with_arg("USER", user)?)?;
        match reply.code {
            230 | 232 => {}
            331 => {
                let reply = self.command(&Command::with_arg("PASS", password)?)?;
                if !matches!(reply.code, 230 | 202) {
                    return Err(Error::Reply {
                        command: "PASS",
                        code: reply.code,
                        text: reply.text(),
                    });
                }
            }
            code => {
                return Err(Error::Reply {
                    command: "USER",
                    code,
                    text: reply.text(),
                })
            }
        }
        // One round trip for the settings that do not depend on FEAT,
        // one for those that do.
        let mut cmds = vec![Command::new("FEAT")];
        if !self.protect_before_login {
            cmds.extend(self.protect_commands()?);
        }
        cmds.push(Command::with_arg("TYPE", "I")?);
        let replies = self.pipelined(&cmds)?;
        self.features = Features::from_reply(&replies[0]);
        self.hash_current = self.features.current_hash();
        for (cmd, reply) in cmds.iter().zip(&replies).skip(1) {
            expect_code(cmd, reply, |c| c == 200)?;
        }
        let mut opts = Vec::new();
        if self.features.has("UTF8") && self.charset.is_utf8() {
            // pure-ftpd lists UTF8 but answers 504: harmless.
            opts.push(Command::with_arg("OPTS", "UTF8 ON")?);
        }
        if let Some(facts) = self.features.mlst_facts_with_mode() {
            // Listings without modes are only less exact: no error.
            opts.push(Command::with_arg("OPTS", format!("MLST {facts}"))?);
        }
        self.pipelined(&opts)?;
        Ok(())
    }

    /// `PBSZ 0` then `PROT`, in that order (RFC 4217 section 8: PROT must
    /// follow PBSZ).
    fn protect_commands(&self) -> Result<[Command; 2]> {
        let level = match self.protection {
            Protection::Private => "P",
            Protection::Clear => "C",
        };
        Ok([
            Command::with_arg("PBSZ", "0")?,
            Command::with_arg("PROT", level)?,
        ])
    }

    /// `PBSZ 0` and `PROT` in one round trip.
    fn protect(&mut self) -> Result<()> {
        let cmds = self.protect_commands()?;
        let replies = self.pipelined(&cmds)?;
        for (cmd, reply) in cmds.iter().zip(&replies) {
            expect_code(cmd, reply, |c| c == 200)?;
        }
        Ok(())
    }

    /// Connects and logs in.
    pub fn open(opts: &ConnectOptions, user: &str, password: &str) -> Result<Control> {
        let mut c = Control::connect(opts)?;
        if let Err(e) = c.login(user, password) {
            c.quit();
            return Err(e);
        }
        Ok(c)
    }

    /// The features the server listed in FEAT.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Greeting, TLS version and cipher of this connection.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// TLS 1.3 tickets left for resuming data connections.
    pub fn tls13_tickets(&self) -> usize {
        self.store.tls13_tickets()
    }

    /// Whether a data connection opened now would resume the TLS session.
    ///
    /// Under TLS 1.3 each data connection spends one ticket; a connection
    /// that ran out must be replaced before a server that requires reuse
    /// (vsftpd, proftpd) will accept another data connection.
    pub fn can_resume(&self) -> bool {
        self.protection == Protection::Clear
            || !self.info.tls_version.contains("1_3")
            || self.store.tls13_tickets() > 0
    }

    /// Marks the connection as out of step (a hung server): it is closed
    /// instead of going back to the pool.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// False once an error left this connection in an unknown state.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    /// The timeout of every wait on this connection.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How long since the last command.
    pub fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }

    fn send(&mut self, cmd: &Command) -> Result<()> {
        debug!("> {cmd:?}");
        let mut wire = cmd.to_wire(&self.charset)?;
        let r = self.send_wire(&wire);
        if cmd.verb() == "PASS" {
            crate::secret::wipe(&mut wire);
        }
        r
    }

    /// Writes encoded commands; a failure breaks the connection.
    fn send_wire(&mut self, wire: &[u8]) -> Result<()> {
        self.stream
            .write_all(wire)
            .and_then(|_| self.stream.flush())
            .map_err(|e| {
                self.broken = true;
                Error::from_io(e, "sending a command")
            })
    }

    fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>> {
        loop {
            match take_line(&mut self.inbuf) {
                Ok(Some(line)) => return Ok(line),
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
            let mut buf = [0u8; 4096];
            let n = match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the control connection",
                    )));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.broken = true;
                    return Err(Error::from_io(e, "waiting for a reply"));
                }
            };
            self.inbuf.extend_from_slice(&buf[..n]);
            if Instant::now() > deadline {
                // Each read came in time, the reply as a whole did not.
                self.broken = true;
                return Err(Error::Timeout("a reply sent too slowly"));
            }
        }
    }

    /// Reads one complete (possibly multi-line) reply, within the timeout
    /// as a whole (a server may trickle it a byte at a time).
    pub fn read_reply(&mut self) -> Result<Reply> {
        self.read_reply_within(self.timeout)
    }

    /// [`Control::read_reply`] within `wait` rather than the timeout.
    fn read_reply_within(&mut self, wait: Duration) -> Result<Reply> {
        let mut parser = ReplyParser::default();
        let deadline = Instant::now() + wait;
        loop {
            let line = self.read_line(deadline)?;
            match parser.push(&line) {
                Ok(Some(reply)) => {
                    debug!("< {} {}", reply.code, reply.text());
                    self.last_used = Instant::now();
                    if reply.code == 421 {
                        self.broken = true;
                    }
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
    }

    /// Sends a command and returns the server's reply, whatever its code.
    pub fn command(&mut self, cmd: &Command) -> Result<Reply> {
        if self.broken {
            return Err(Error::Broken);
        }
        self.send(cmd)?;
        self.read_reply()
    }

    /// Sends a command; a reply whose code fails `ok` becomes [`Error::Reply`].
    pub fn expect(&mut self, cmd: &Command, ok: impl Fn(u16) -> bool) -> Result<Reply> {
        let reply = self.command(cmd)?;
        expect_code(cmd, &reply, ok)?;
        Ok(reply)
    }

    /// Sends `cmds` at once, then reads their replies in order: one round
    /// trip instead of one per command (RFC 959 lets a client send before
    /// the last reply came; servers answer in order). Every reply is read
    /// whatever its code, so the connection stays in step.
    fn pipelined(&mut self, cmds: &[Command]) -> Result<Vec<Reply>> {
        if self.broken {
            return Err(Error::Broken);
        }
        let mut wire = Vec::new();
        for cmd in cmds {
            wire.append(&mut cmd.to_wire(&self.charset)?);
        }
        match cmds {
            [] => return Ok(Vec::new()),
            [first, rest @ ..] if rest.len() > 4 => {
                debug!("> {first:?} and {} more", rest.len())
            }
            _ => cmds.iter().for_each(|cmd| debug!("> {cmd:?}")),
        }
        self.send_wire(&wire)?;
        let mut replies = Vec::with_capacity(cmds.len());
        for _ in cmds {
            replies.push(self.read_reply()?);
        }
        Ok(replies)
    }

    /// `NOOP`: checks the connection is alive.
    pub fn noop(&mut self) -> Result<()> {
        self.expect(&Command::new("NOOP"), |c| c == 200).map(drop)
    }

    /// `SIZE path` (RFC 3659).
    pub fn size(&mut self, path: &str) -> Result<u64> {
        let r = self.expect(&Command::with_path("SIZE", path)?, |c| c == 213)?;
        r.text()
            .trim()
            .parse()
            .map_err(|_| Error::Protocol(format!("bad SIZE reply {:?}", r.text())))
    }

    /// `MDTM path`: the modification time as `YYYYMMDDHHMMSS[.sss]` (UTC).
    pub fn mdtm(&mut self, path: &str) -> Result<String> {
        let r = self.expect(&Command::with_path("MDTM", path)?, |c| c == 213)?;
        Ok(r.text().trim().to_string())
    }

    /// `MDTM` for many paths, pipelined: up to [`PIPELINE`] commands are
    /// sent before their replies are read, so a directory of N files costs
    /// about N / [`PIPELINE`] round trips instead of N. Gives each path's
    /// time as `YYYYMMDDHHMMSS[.sss]`, or `None` where the server refused
    /// that one (a 4xx or 5xx reply).
    pub fn mdtm_many(&mut self, paths: &[String]) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(paths.len());
        for window in paths.chunks(PIPELINE) {
            let cmds = window
                .iter()
                .map(|p| Command::with_path("MDTM", p.as_str()))
                .collect::<Result<Vec<_>>>()?;
            for r in self.pipelined(&cmds)? {
                out.push((r.code == 213).then(|| r.text().trim().to_string()));
            }
        }
        Ok(out)
    }

    /// Sets the modification time (`YYYYMMDDHHMMSS`, UTC): MFMT when the
    /// server lists it, else the `MDTM time path` form vsftpd understands.
    pub fn set_mtime(&mut self, path: &str, stamp: &str) -> Result<()> {
        let cmd = if self.features.has("MFMT") {
            Command::with_arg_and_path("MFMT", stamp, path)?
        } else {
            Command::with_arg_and_path("MDTM", stamp, path)?
        };
        self.expect(&cmd, |c| c == 213 || c == 253 || c == 200)
            .map(drop)
    }

    /// `MKD path`.
    pub fn mkdir(&mut self, path: &str) -> Result<()> {
        self.expect(&Command::with_path("MKD", path)?, |c| c == 257 || c == 250)
            .map(drop)
    }

    /// `RMD path`.
    pub fn rmdir(&mut self, path: &str) -> Result<()> {
        self.expect(&Command::with_path("RMD", path)?, |c| c == 250 || c == 200)
            .map(drop)
    }

    /// `DELE path`.
    pub fn delete(&mut self, path: &str) -> Result<()> {
        self.expect(&Command::with_path("DELE", path)?, |c| c == 250 || c == 200)
            .map(drop)
    }

    /// `RNFR from` then `RNTO to`. Both paths are checked first, so a
    /// target the charset cannot write never leaves a pending RNFR.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        // Sent together: a refused RNFR leaves no rename pending, and the
        // RNTO after it is refused too (503, bad sequence).
        let cmds = [
            Command::with_path("RNFR", from)?,
            Command::with_path("RNTO", to)?,
        ];
        let replies = self.pipelined(&cmds)?;
        expect_code(&cmds[0], &replies[0], |c| c == 350)?;
        expect_code(&cmds[1], &replies[1], |c| c == 250 || c == 200)
    }

    /// `MFF UNIX.mode=MODE; path` where the server offers it, else
    /// `SITE CHMOD mode path`. MFF takes the path verbatim after the
    /// facts; proftpd's SITE CHMOD splits its arguments at blanks and
    /// quotes, so a name with a trailing space or a `"` never got there.
    pub fn chmod(&mut self, path: &str, mode: u32) -> Result<()> {
        let cmd = if self.features.mff_sets("UNIX.mode") {
            Command::with_arg_and_path("MFF", format!("UNIX.mode={:04o};", mode & 0o7777), path)?
        } else {
            Command::with_arg_and_path("SITE", format!("CHMOD {:o}", mode & 0o7777), path)?
        };
        self.expect(&cmd, |c| c == 200 || c == 213 || c == 250)
            .map(drop)
    }

    /// `MLST path` (RFC 3659 section 7): the facts of one entry, the
    /// text before its pathname (`type=file;size=3;...;`), or the code
    /// of a reply without them (550: no such entry).
    pub fn mlst(&mut self, path: &str) -> Result<std::result::Result<String, u16>> {
        let reply = self.command(&Command::with_path("MLST", path)?)?;
        if reply.code != 250 {
            debug!("MLST refused: {} {}", reply.code, reply.text());
            return Ok(Err(reply.code));
        }
        // The one line that starts with a space: " facts; pathname".
        // Facts end with ';' and hold none, so the first "; " ends them.
        let facts = reply
            .lines
            .iter()
            .filter_map(|l| l.strip_prefix(' '))
            .find_map(|l| l.find("; ").map(|i| l[..=i].to_string()));
        Ok(facts.ok_or_else(|| {
            debug!("MLST reply without an entry: {}", reply.text());
            reply.code
        }))
    }

    /// `CWD path`.
    pub fn cwd(&mut self, path: &str) -> Result<()> {
        self.expect(&Command::with_path("CWD", path)?, |c| c == 250 || c == 200)
            .map(drop)
    }

    /// Says goodbye (protected QUIT) and closes; errors are ignored.
    pub fn quit(mut self) {
        if !self.broken && self.send(&Command::new("QUIT")).is_ok() {
            let _ = self.read_reply();
        }
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.store.hand_over(&self.sessions);
        self.broken = true;
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
    }

    /// Asks for a passive data port: EPSV, falling back to PASV.
    ///
    /// The address is always the control connection's peer: the host in a
    /// PASV reply is ignored, so a server cannot point us elsewhere.
    fn passive(&mut self) -> Result<SocketAddr> {
        if !self.epsv_refused {
            let r = self.command(&Command::new("EPSV"))?;
            if r.code == 229 {
                let port = parse_epsv(&r.text())?;
                return Ok(SocketAddr::new(self.peer.ip(), port));
            }
            if !matches!(r.code, 500 | 501 | 502 | 504) {
                return Err(Error::Reply {
                    command: "EPSV",
                    code: r.code,
                    text: r.text(),
                });
            }
            self.epsv_refused = true;
        }
        if self.peer.ip().is_ipv6() {
            return Err(Error::Protocol(
                "EPSV refused and PASV cannot do IPv6".into(),
            ));
        }
        let r = self.expect(&Command::new("PASV"), |c| c == 227)?;
        let port = parse_pasv(&r.text())?;
        Ok(SocketAddr::new(self.peer.ip(), port))
    }

    /// Active mode: listens on the control connection's local address and
    /// tells the server where with PORT (IPv4) or EPRT (IPv6, RFC 2428).
    fn active(&mut self) -> Result<TcpListener> {
        let local = self.stream.tcp().local_addr()?;
        let listener = TcpListener::bind(SocketAddr::new(local.ip(), 0))?;
        let addr = listener.local_addr()?;
        let cmd = match addr.ip() {
            IpAddr::V4(ip) => {
                let o = ip.octets();
                let p = addr.port();
                Command::with_arg(
                    "PORT",
                    format!(
                        "{},{},{},{},{},{}",
                        o[0],
                        o[1],
                        o[2],
                        o[3],
                        p >> 8,
                        p & 0xff
                    ),
                )?
            }
            IpAddr::V6(ip) => Command::with_arg("EPRT", format!("|2|{ip}|{}|", addr.port()))?,
        };
        self.expect(&cmd, |c| c == 200)?;
        Ok(listener)
    }

    /// Waits for the server's data connection in active mode, from the
    /// control connection's peer address only (anyone else is turned away).
    fn accept_data(&self, listener: TcpListener) -> Result<TcpStream> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout("waiting for the server's data connection"));
            }
            let mut pfd = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            if n == 0 {
                continue;
            }
            let (sock, from) = listener.accept()?;
            if from.ip() != self.peer.ip() {
                debug!("active mode: refused a data connection from {from}");
                let _ = sock.shutdown(Shutdown::Both);
                continue;
            }
            return Ok(sock);
        }
    }

    /// Starts a transfer: a data port (EPSV/PASV, or PORT/EPRT in active
    /// mode), optional `REST offset`, the command, its 1xx reply, then the
    /// TLS handshake resuming this session, with us as the TLS client
    /// whoever connected (RFC 4217 section 6).
    ///
    /// A 522 after a refused data handshake (the usual reason: the server
    /// requires session reuse) is retried once, resuming the control
    /// connection's session again, when the control connection survived it.
    pub fn begin(&mut self, cmd: &Command, rest: Option<u64>) -> Result<DataConn> {
        self.retry_522(|c| c.begin_once(cmd, rest))
    }

    /// Runs `f`, a transfer, again once when the server refused its data
    /// connection with 522 (RFC 4217 section 9.2: usually "TLS session reuse
    /// required") and this control connection survived and can resume.
    fn retry_522<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T>) -> Result<T> {
        match f(self) {
            Err(
                first @ Error::Reply {
                    command: DATA_CONNECTION,
                    code: 522,
                    ..
                },
            ) if !self.broken && self.can_resume() => {
                debug!("{first}; retrying once");
                match f(self) {
                    // The server ended the session after its 522 (vsftpd
                    // does): its 522 says more than the closed connection.
                    Err(e) if e.breaks_connection() => Err(first),
                    r => r,
                }
            }
            r => r,
        }
    }

    fn begin_once(&mut self, cmd: &Command, rest: Option<u64>) -> Result<DataConn> {
        if self.broken {
            return Err(Error::Broken);
        }
        let pending = match self.data_mode {
            DataMode::Passive => Pending::Connecting(self.passive()?),
            DataMode::Active => Pending::Listening(self.active()?),
        };
        if let Some(offset) = rest.filter(|&o| o > 0) {
            self.expect(&Command::with_arg("REST", offset.to_string())?, |c| {
                c == 350
            })?;
        }
        // Passive: the command goes out while the data connection is being
        // made (as in RFC 4217 11.5) and our ClientHello sent on it, so the
        // server's 1xx and its half of the handshake share a round trip.
        let connecting = match &pending {
            Pending::Connecting(addr) => Some((*addr, Connecting::start(*addr))),
            Pending::Listening(_) => None,
        };
        self.send(cmd)?;
        let connected = connecting.map(|(addr, started)| self.open_passive(addr, started));
        let reply = self.read_reply();
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                if let Some(Ok(opening)) = connected {
                    opening.shutdown();
                }
                return Err(e);
            }
        };
        if !reply.is_preliminary() {
            if let Some(Ok(opening)) = connected {
                opening.shutdown();
            }
            return Err(Error::Reply {
                command: cmd.verb(),
                code: reply.code,
                text: reply.text(),
            });
        }
        // From here the control connection owes us a final reply.
        self.broken = true;
        let opening = match (pending, connected) {
            (_, Some(Ok(opening))) => opening,
            // The server waits for a connection that never comes: the
            // session is out of step, so it stays broken.
            (_, Some(Err(e))) => return Err(e),
            (Pending::Listening(listener), None) => {
                match self
                    .accept_data(listener)
                    .and_then(|sock| self.open_data(sock))
                {
                    Ok(opening) => opening,
                    Err(e) => return Err(self.fail_transfer(e)),
                }
            }
            (Pending::Connecting(_), None) => unreachable!("a connect was started"),
        };
        let handshaken = match opening {
            Opening::Clear(sock) => return Ok(DataConn::clear(sock)),
            Opening::Tls(t) => t.finish_handshake(),
        }
        .map_err(|e| Error::from_io(e, "TLS handshake"));
        let tls = match handshaken {
            Ok(t) => t,
            Err(e) => {
                // The server follows a refused handshake with 522 (or 425):
                // read it so the control connection stays usable if it can.
                return Err(self.fail_transfer(e));
            }
        };
        let data = DataConn::new(tls);
        trace!(
            "data connection: {} resumed={}",
            data.tls_version(),
            data.resumed()
        );
        let control_cert = self.peer_cert.as_ref().map(|c| c.as_ref());
        if let Err(e) = tls::check_data_certificate(control_cert, data.peer_certificate()) {
            let mut data = data;
            data.shutdown();
            return Err(self.fail_transfer(e));
        }
        Ok(data)
    }

    /// Waits for a passive data connection `begin_once` started, then
    /// [`Control::open_data`].
    fn open_passive(&self, addr: SocketAddr, started: io::Result<Connecting>) -> Result<Opening> {
        let sock = started
            .and_then(|c| c.finish(self.timeout))
            .map_err(|e| data_connect_error(addr, e))?;
        self.open_data(sock)
    }

    /// Gives a data connection's socket the transfer timeouts and, with
    /// `PROT P`, sends our ClientHello on it.
    fn open_data(&self, sock: TcpStream) -> Result<Opening> {
        sock.set_read_timeout(Some(self.timeout))?;
        sock.set_write_timeout(Some(self.timeout))?;
        Ok(match self.protection {
            Protection::Private => Opening::Tls(Box::new(
                TlsStream::client_hello(self.tls_config.clone(), self.server_name.clone(), sock)
                    .map_err(|e| Error::from_io(e, "TLS handshake"))?,
            )),
            Protection::Clear => Opening::Clear(sock),
        })
    }

    /// Ends a download: the data was read to its end; closes our side with
    /// close_notify first (vsftpd waits for it), then reads the final reply.
    pub fn finish_download(&mut self, mut data: DataConn) -> Result<Reply> {
        if !data.eof {
            data.shutdown();
            return Err(self.fail_transfer(Error::Protocol("download not read to its end".into())));
        }
        let _ = data.close_write();
        data.shutdown();
        self.final_reply("RETR")
    }

    /// Ends an upload: close_notify, shut down writing, read the socket to
    /// its end (this collects the server's session tickets and ensures no
    /// unread bytes turn our close into a reset), then the final reply.
    pub fn finish_upload(&mut self, mut data: DataConn) -> Result<Reply> {
        if let Err(e) = data.close_write() {
            data.shutdown();
            return Err(self.fail_transfer(e));
        }
        let deadline = Instant::now() + self.timeout;
        let drained = data.drain(1 << 20, deadline);
        data.shutdown();
        if let Err(e) = drained {
            return Err(self.fail_transfer(e));
        }
        self.final_reply("STOR")
    }

    fn final_reply(&mut self, verb: &'static str) -> Result<Reply> {
        self.broken = false;
        let r = self.read_reply()?;
        if matches!(r.code, 226 | 250) {
            Ok(r)
        } else {
            Err(Error::Reply {
                command: verb,
                code: r.code,
                text: r.text(),
            })
        }
    }

    /// After a failed data connection or transfer, reads the server's
    /// verdict (within the timeout); the connection stays broken unless that
    /// works. A reply that refuses the data connection (425, 426, 521, 522)
    /// becomes the error, since it names the cause; `err` goes in its text.
    fn fail_transfer(&mut self, err: Error) -> Error {
        self.broken = false;
        match self.read_reply() {
            // A security failure of ours stays the error, whatever the reply.
            Ok(r) if matches!(err, Error::DataCertificateMismatch) => {
                debug!("after {err}: {} {}", r.code, r.text());
                err
            }
            Ok(r) if matches!(r.code, 425 | 426 | 521 | 522) => {
                debug!("data connection refused: {} {}", r.code, r.text());
                Error::Reply {
                    command: DATA_CONNECTION,
                    code: r.code,
                    text: format!("{} ({err})", r.text()),
                }
            }
            Ok(r) if r.is_completion() || (400..600).contains(&r.code) => err,
            _ => {
                self.broken = true;
                err
            }
        }
    }

    /// Ends a transfer whose data connection failed with `err`: closes it
    /// and reads the server's verdict. A reply refusing the data connection
    /// (425, 426, 521, 522) becomes the error, since it names the cause.
    pub fn fail(&mut self, mut data: DataConn, err: Error) -> Error {
        data.shutdown();
        self.fail_transfer(err)
    }

    /// Abandons a transfer in progress: closes the data connection, sends
    /// ABOR inside TLS (no TCP urgent data, RFC 4217 section 13), then
    /// NOOP, and reads replies until NOOP's 200 so the connection is back
    /// in step however many replies the server sent for the aborted command.
    ///
    /// A stream the server already ended (the reader stopped right at the
    /// end of the file) needs no ABOR: it ends with its final reply instead.
    pub fn abort(&mut self, mut data: DataConn) -> Result<()> {
        if data.ended_now() {
            return self.finish_download(data).map(drop);
        }
        data.shutdown();
        drop(data);
        self.broken = false;
        self.send(&Command::new("ABOR"))?;
        self.send(&Command::new("NOOP"))?;
        for _ in 0..5 {
            let r = self.read_reply()?;
            if r.code == 200 {
                return Ok(());
            }
        }
        self.broken = true;
        Err(Error::Protocol("no reply to NOOP after ABOR".into()))
    }

    /// Lists a directory into memory: `MLSD path` when the server has it,
    /// else `CWD path` then `LIST -a` (so the name is never globbed).
    /// A path holding characters that some servers expand in a listing's
    /// argument (`*?[]{}~\`) is never given to MLSD either: `CWD path`
    /// then `MLSD` alone. Returns the raw body and whether it is MLSD.
    pub fn list_raw(&mut self, path: &str, max_bytes: usize) -> Result<(Vec<u8>, bool)> {
        let mlsd = self.features.mlsd();
        self.retry_522(|c| c.list_once(path, max_bytes, mlsd))
    }

    /// `CWD path` then `LIST -a`, even on a server with MLSD: its `ls -l`
    /// lines give symlink targets, which MLSD may leave out.
    pub fn list_long_raw(&mut self, path: &str, max_bytes: usize) -> Result<Vec<u8>> {
        self.retry_522(|c| c.list_once(path, max_bytes, false))
            .map(|(body, _)| body)
    }

    fn list_once(&mut self, path: &str, max_bytes: usize, mlsd: bool) -> Result<(Vec<u8>, bool)> {
        let mut data = if mlsd && !may_glob(path) {
            self.begin_once(&Command::with_path("MLSD", path)?, None)?
        } else if mlsd {
            self.cwd(path)?;
            self.begin_once(&Command::new("MLSD"), None)?
        } else {
            self.cwd(path)?;
            self.begin_once(&Command::with_arg("LIST", "-a")?, None)?
        };
        let mut body = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match data.read_full(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    data.shutdown();
                    return Err(self.fail_transfer(e));
                }
            };
            if n == 0 {
                break;
            }
            if body.len() + n > max_bytes {
                self.abort(data)?;
                return Err(Error::TooLarge(format!(
                    "listing of {path} larger than {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&buf[..n]);
        }
        self.finish_download(data)?;
        Ok((body, mlsd))
    }

    /// Downloads a whole file into memory (tests and small files).
    pub fn retr_to_vec(&mut self, path: &str) -> Result<Vec<u8>> {
        self.retry_522(|c| c.retr_once(path))
    }

    fn retr_once(&mut self, path: &str) -> Result<Vec<u8>> {
        let mut data = self.begin_once(&Command::with_path("RETR", path)?, None)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match data.read_full(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    data.shutdown();
                    return Err(self.fail_transfer(e));
                }
            };
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        self.finish_download(data)?;
        Ok(out)
    }

    /// Uploads `bytes` as `path` and checks the stored size when SIZE exists.
    pub fn stor_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let mut data = self.begin(&Command::with_path("STOR", path)?, None)?;
        if let Err(e) = data.write_all(bytes) {
            data.shutdown();
            return Err(self.fail_transfer(Error::from_io(e, "upload")));
        }
        self.finish_upload(data)?;
        self.verify_size(path, bytes.len() as u64)
    }

    /// Makes `alg` the algorithm of `HASH` on this connection (`OPTS
    /// HASH`), unless it is already. Selected before an upload, it lets a
    /// server that hashes what it receives (proftpd's mod_digest) answer
    /// the `HASH` after it without reading the file again.
    pub fn select_hash(&mut self, alg: HashAlg) -> Result<()> {
        if self.hash_current == Some(alg) {
            return Ok(());
        }
        self.expect(
            &Command::with_arg("OPTS", format!("HASH {}", alg.name()))?,
            |c| c == 200,
        )?;
        self.hash_current = Some(alg);
        Ok(())
    }

    /// The server's hash of the whole file `path` (`size` bytes long), by
    /// `method`. The wait for the reply grows with `size` (the server may
    /// read the whole file first) by a second per 32 MiB.
    pub fn file_hash(&mut self, method: HashMethod, path: &str, size: u64) -> Result<Vec<u8>> {
        let alg = method.alg();
        let cmd = match method {
            HashMethod::Hash(_) => {
                self.select_hash(alg)?;
                Command::with_arg("HASH", path)?
            }
            // These take `path [start end]` split at spaces (proftpd).
            HashMethod::X(_) if path.contains(char::is_whitespace) => {
                return Err(Error::Protocol(format!(
                    "{} cannot name a path with spaces",
                    alg.x_command()
                )))
            }
            HashMethod::X(_) => Command::with_arg(alg.x_command(), path)?,
        };
        let extra = Duration::from_secs(size / (32 << 20));
        let reply = self.command_waiting(&cmd, self.timeout + extra)?;
        let ok = match method {
            HashMethod::Hash(_) => reply.code == 213,
            HashMethod::X(_) => reply.is_completion(),
        };
        if !ok {
            return Err(Error::Reply {
                command: cmd.verb(),
                code: reply.code,
                text: reply.text(),
            });
        }
        match method {
            HashMethod::Hash(_) => hash::parse_hash_reply(&reply, alg),
            HashMethod::X(_) => hash::parse_x_reply(&reply, alg),
        }
    }

    /// After an upload, compares the server's hash of `path` (by `method`)
    /// with `sent`, the digest of the bytes sent (`size` of them).
    pub fn verify_hash(
        &mut self,
        path: &str,
        method: HashMethod,
        sent: &[u8],
        size: u64,
    ) -> Result<()> {
        let stored = self.file_hash(method, path, size)?;
        if stored != sent {
            return Err(Error::HashMismatch {
                method: method.to_string(),
                sent: hash::to_hex(sent),
                stored: hash::to_hex(&stored),
            });
        }
        debug!("{path}: {method} matches the {size} bytes sent");
        Ok(())
    }

    /// [`Control::command`] allowing `wait` for the reply (socket reads
    /// included) instead of the timeout.
    fn command_waiting(&mut self, cmd: &Command, wait: Duration) -> Result<Reply> {
        if wait <= self.timeout {
            return self.command(cmd);
        }
        if self.broken {
            return Err(Error::Broken);
        }
        self.send(cmd)?;
        if let Err(e) = self.stream.tcp().set_read_timeout(Some(wait)) {
            self.broken = true;
            return Err(e.into());
        }
        let r = self.read_reply_within(wait);
        if self
            .stream
            .tcp()
            .set_read_timeout(Some(self.timeout))
            .is_err()
        {
            self.broken = true;
        }
        r
    }

    /// After an upload, compares the server's SIZE with the bytes sent
    /// (pyftpdlib answers 226 for truncated uploads).
    pub fn verify_size(&mut self, path: &str, sent: u64) -> Result<()> {
        if !self.features.has("SIZE") {
            return Ok(());
        }
        let stored = self.size(path)?;
        if stored != sent {
            return Err(Error::SizeMismatch { sent, stored });
        }
        Ok(())
    }
}

/// [`Error::Reply`] unless `reply`'s code passes `ok`.
fn expect_code(cmd: &Command, reply: &Reply, ok: impl Fn(u16) -> bool) -> Result<()> {
    if ok(reply.code) {
        Ok(())
    } else {
        Err(Error::Reply {
            command: cmd.verb(),
            code: reply.code,
            text: reply.text(),
        })
    }
}

/// Whether a server could take `path` as a pattern in a listing command.
fn may_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', ']', '{', '}', '~', '\\'])
}

/// Port from a 229 reply: `Entering Extended Passive Mode (|||6446|)`.
pub fn parse_epsv(text: &str) -> Result<u16> {
    let bad = || Error::Protocol(format!("bad EPSV reply {text:?}"));
    let start = text.find('(').ok_or_else(bad)?;
    let inner = &text[start + 1..];
    let end = inner.find(')').ok_or_else(bad)?;
    let inner = &inner[..end];
    let delim = inner.chars().next().ok_or_else(bad)?;
    let parts: Vec<&str> = inner.split(delim).collect();
    // "|||6446|" splits into ["", "", "", "6446", ""]
    if parts.len() != 5 || !parts[1].is_empty() || !parts[2].is_empty() {
        return Err(bad());
    }
    match parts[3].parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad()),
    }
}

/// Port from a 227 reply: `Entering Passive Mode (h1,h2,h3,h4,p1,p2)`; the host is ignored.
pub fn parse_pasv(text: &str) -> Result<u16> {
    let bad = || Error::Protocol(format!("bad PASV reply {text:?}"));
    let start = text.find(|c: char| c.is_ascii_digit()).ok_or_else(bad)?;
    let nums: Vec<u16> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|s| s.parse::<u16>().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    if nums.len() != 6 || nums.iter().any(|&n| n > 255) {
        return Err(bad());
    }
    let port = nums[4] * 256 + nums[5];
    if port == 0 {
        return Err(bad());
    }
    Ok(port)
}

/// Read-only accessors for diagnostics (`ftpsfs probe`).
impl Control {
    /// The server's end-entity certificate on the control connection.
    pub fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.peer_cert.as_ref()
    }

    /// The server's address on the control connection.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsv_reply_gives_port() {
        assert_eq!(
            parse_epsv("Entering Extended Passive Mode (|||31005|)").unwrap(),
            31005
        );
        assert_eq!(
            parse_epsv("Extended Passive mode OK (!!!40000!)").unwrap(),
            40000
        );
        for bad in [
            "(|||0|)",
            "(|||70000|)",
            "no parens",
            "(||1|2|)",
            "(|||x|)",
            "(",
        ] {
            assert!(parse_epsv(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pasv_reply_port_only_host_ignored() {
        assert_eq!(
            parse_pasv("Entering Passive Mode (10,0,0,9,121,45).").unwrap(),
            121 * 256 + 45
        );
        assert_eq!(parse_pasv("=127,0,0,1,4,1").unwrap(), 1025);
        for bad in [
            "Entering Passive Mode (1,2,3,4,5)",
            "(1,2,3,4,256,1)",
            "",
            "(1,2,3,4,0,0)",
        ] {
            assert!(parse_pasv(bad).is_err(), "{bad}");
        }
    }
}
