//! The real `magasin` binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Binary {
    pub child: Child,
    pub base: String,
}

/// A command for the binary serving on a free port from `data_dir`.
pub fn command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_magasin"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("MAGASIN_JWT_SECRET")
        .env_remove("MAGASIN_BOOTSTRAP_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Starts `command` and waits (up to a minute) for its ready line.
pub fn start(mut command: Command) -> Binary {
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(base) = line.strip_prefix("magasin listening on ") {
                let _ = tx.send(base.to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the binary prints its ready line within a minute");
    Binary { child, base }
}

impl Binary {
    /// SIGTERM, then waits for the exit; true when it exited cleanly.
    pub fn terminate(mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.child.wait().expect("the binary exits").success()
    }
}

/// Runs `command`, which must refuse to start: answers what it wrote on stderr. A server
/// that starts instead is killed after 30 s and the test fails (rather than waiting on it).
pub fn refused(mut command: Command) -> String {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait().expect("the child's status") {
            Some(status) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                assert!(!status.success(), "exited successfully; stderr: {stderr}");
                return stderr;
            }
            None if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the binary started instead of refusing to");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
