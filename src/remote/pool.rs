//! A bounded pool of logged-in control connections.

use crate::ftp::{self, ConnectOptions, Control};
use log::debug;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// A connection idle longer than this is checked with NOOP before use.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(15);

/// Credentials kept for reconnecting; the password is never shown.
pub struct Login {
    /// Login name.
    pub user: String,
    /// Password (may be empty).
    pub password: crate::cli::password::Password,
}

/// Logged-in control connections, at most `max` at a time.
pub struct Pool {
    opts: ConnectOptions,
    login: Login,
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Control>,
    open: usize,
}

impl Pool {
    /// A pool that opens up to `max` connections on demand; `first` is an
    /// already logged-in connection to start with.
    pub fn new(
        opts: ConnectOptions,
        login: Login,
        max: usize,
        first: Option<Control>,
    ) -> Arc<Pool> {
        let open = usize::from(first.is_some());
        Arc::new(Pool {
            opts,
            login,
            max: max.max(1),
            state: Mutex::new(State {
                idle: first.into_iter().collect(),
                open,
            }),
            freed: Condvar::new(),
        })
    }

    /// Opens and logs in one new control connection (not counted in the pool).
    pub fn connect(&self) -> ftp::Result<Control> {
        Control::open(&self.opts, &self.login.user, self.login.password.expose())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a healthy connection, opening one if below the limit, else
    /// waiting (bounded by the timeout) for one to come back.
    pub fn get(self: &Arc<Self>) -> ftp::Result<Pooled> {
        let deadline = Instant::now() + self.opts.timeout;
        let mut state = self.lock();
        loop {
            if let Some(mut c) = state.idle.pop() {
                drop(state);
                if c.idle_for() < CHECK_AFTER_IDLE || c.noop().is_ok() {
                    return Ok(self.wrap(c));
                }
                debug!("dropping a stale control connection");
                c.quit();
                state = self.lock();
                state.open -= 1;
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(c) => Ok(self.wrap(c)),
                    Err(e) => {
                        self.release_slot();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ftp::Error::Timeout("waiting for a free control connection"));
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wrap(self: &Arc<Self>, c: Control) -> Pooled {
        Pooled {
            control: Some(c),
            pool: Arc::clone(self),
        }
    }

    fn release_slot(&self) {
        self.lock().open -= 1;
        self.freed.notify_one();
    }

    /// Sends NOOP every `every` on connections idle that long, so servers
    /// that end idle sessions keep them; one that fails is closed (the
    /// next user of the pool opens a new one). Stops when the pool is gone.
    pub fn keep_alive(self: &Arc<Self>, every: Duration) {
        let pool: Weak<Pool> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("ftpsfs-keepalive".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(pool) = pool.upgrade() else {
                    return;
                };
                let due: Vec<Control> = {
                    let mut s = pool.lock();
                    let (due, rest) = std::mem::take(&mut s.idle)
                        .into_iter()
                        .partition(|c| c.idle_for() >= every);
                    s.idle = rest;
                    due
                };
                for mut c in due {
                    if c.noop().is_ok() {
                        pool.lock().idle.push(c);
                        pool.freed.notify_one();
                    } else {
                        debug!("keepalive: closing a control connection that failed NOOP");
                        c.quit();
                        pool.release_slot();
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("keepalive thread not started: {e}");
        }
    }

    /// Closes every idle connection (at unmount).
    pub fn close_idle(&self) {
        let idle: Vec<Control> = {
            let mut s = self.lock();
            let v = std::mem::take(&mut s.idle);
            s.open -= v.len();
            v
        };
        for c in idle {
            c.quit();
        }
    }
}

/// A connection borrowed from the pool; it goes back when dropped, or is
/// closed if an error left it unusable.
pub struct Pooled {
    control: Option<Control>,
    pool: Arc<Pool>,
}

impl Pooled {
    /// The connection.
    pub fn control(&mut self) -> &mut Control {
        self.control.as_mut().expect("present until drop")
    }

    /// Whether a connection is held (a failed [`Self::reconnect`] leaves none).
    pub fn connected(&self) -> bool {
        self.control.is_some()
    }

    /// Replaces the connection with a freshly logged-in one (a new TLS
    /// session with fresh tickets), keeping the pool slot.
    pub fn reconnect(&mut self) -> ftp::Result<()> {
        if let Some(old) = self.control.take() {
            // Its goodbye costs a round trip that nothing waits for.
            std::thread::spawn(move || old.quit());
        }
        match self.pool.connect() {
            Ok(c) => {
                self.control = Some(c);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        match self.control.take() {
            Some(c) if c.is_usable() => {
                self.pool.lock().idle.push(c);
                self.pool.freed.notify_one();
            }
            Some(c) => {
                c.quit();
                self.pool.release_slot();
            }
            None => self.pool.release_slot(),
        }
    }
}
