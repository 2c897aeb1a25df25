//! Worker threads that own FUSE replies, so the request loop never waits
//! on the network.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A shared pool for independent requests plus ordered lanes: requests
/// for one open file go to one lane, so its reads and writes keep the
/// order in which the kernel sent them.
pub struct Workers {
    general: Sender<Job>,
    lanes: Vec<Sender<Job>>,
}

fn spawn_thread(name: String, rx: Arc<Mutex<Receiver<Job>>>) {
    let spawned = thread::Builder::new().name(name).spawn(move || loop {
        let job = {
            let guard = rx.lock().unwrap_or_else(|p| p.into_inner());
            guard.recv()
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    });
    if let Err(e) = spawned {
        log::error!("cannot start worker thread: {e}");
    }
}

impl Workers {
    /// `general` threads sharing one queue, and `lanes` ordered lanes.
    pub fn new(general: usize, lanes: usize) -> Workers {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..general.max(1) {
            spawn_thread(format!("ftpsfs-w{i}"), Arc::clone(&rx));
        }
        let lanes = (0..lanes.max(1))
            .map(|i| {
                let (tx, rx) = channel::<Job>();
                spawn_thread(format!("ftpsfs-lane{i}"), Arc::new(Mutex::new(rx)));
                tx
            })
            .collect();
        Workers { general: tx, lanes }
    }

    /// Runs `job` on any general worker.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        if let Err(e) = self.general.send(Box::new(job)) {
            // Workers gone (shutting down): run inline rather than lose the reply.
            (e.0)();
        }
    }

    /// Runs `job` on the lane of `key`, after every earlier job of that lane.
    pub fn run_ordered(&self, key: u64, job: impl FnOnce() + Send + 'static) {
        let lane = &self.lanes[(key % self.lanes.len() as u64) as usize];
        if let Err(e) = lane.send(Box::new(job)) {
            (e.0)();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ordered_jobs_of_one_key_run_in_order() {
        let w = Workers::new(2, 4);
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..100 {
            let seen = Arc::clone(&seen);
            w.run_ordered(7, move || {
                if i % 10 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
                seen.lock().unwrap().push(i);
            });
        }
        let (tx, rx) = channel();
        w.run_ordered(7, move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn general_jobs_run() {
        let w = Workers::new(2, 1);
        let (tx, rx) = channel();
        for i in 0..10 {
            let tx = tx.clone();
            w.run(move || tx.send(i).unwrap());
        }
        let mut got: Vec<i32> = (0..10)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }
}
