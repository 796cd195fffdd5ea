//! A `redis-server` of a test's own: started on a free loopback port with
//! a temp dir and `appendfsync always`, stopped (SIGKILL) when dropped.
//!
//! Outside CI a machine without `redis-server` skips the Redis tests with a
//! printed reason; with `CI` set (`.ci/run` installs the Debian package), a
//! missing server fails them.
#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// The TLS port (its certificate is `ca_file`), for servers started with TLS.
    tls_port: Option<u16>,
    /// More `redis-server` arguments (`--requirepass`...).
    extra: Vec<String>,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// Whether a `redis-server` can be started here; `false` (with a printed
/// reason) only outside CI: under CI its absence is a failure.
pub fn redis_available() -> bool {
    tool_available("redis-server")
}

/// Whether `tool` runs (`tool --version` or `tool version`); outside CI a
/// missing one is `false` with a printed reason, under CI a failure.
fn tool_available(tool: &str) -> bool {
    let found = ["--version", "version"].iter().any(|arg| {
        Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    match (found, in_ci) {
        (true, _) => true,
        (false, true) => panic!("{tool} is not installed, and CI needs it (.ci/run installs it)"),
        (false, false) => {
            eprintln!("skipped: {tool} is not installed (apt-get install {tool})");
            false
        }
    }
}

/// A loopback port nothing listens on (bound, then closed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl RedisServer {
    /// Starts a server in a new temp dir; `None` when there is no
    /// `redis-server` outside CI (see [`redis_available`]).
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with more `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        if !redis_available() {
            return None;
        }
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        let mut server = Self {
            child: None,
            port: 0,
            tls_port: None,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            dir,
            _temp: Some(temp),
        };
        server.launch(None);
        Some(server)
    }

    /// A server that also listens with TLS, on a certificate for 127.0.0.1
    /// made now by `openssl` (its own CA: [`ca_file`](Self::ca_file)).
    /// `None` where `redis-server` or `openssl` is missing outside CI.
    pub fn start_tls() -> Option<Self> {
        if !redis_available() || !tool_available("openssl") {
            return None;
        }
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        // A CA, and a certificate for 127.0.0.1 it signs (a self-signed
        // certificate is refused by webpki as a CA used as an end entity).
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write ext.cnf");
        let openssl = |args: &[&str]| {
            let made = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run openssl");
            assert!(made.success(), "openssl {args:?} failed");
        };
        openssl(
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ]
            .into_iter()
            .chain([
                "-subj",
                "/CN=mcp-persist test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ])
            .collect::<Vec<_>>(),
        );
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
            ]
            .into_iter()
            .chain(["-keyout", "key.pem", "-out", "server.csr"])
            .collect::<Vec<_>>(),
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
            ]
            .into_iter()
            .chain([
                "-set_serial",
                "1",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "cert.pem",
            ])
            .collect::<Vec<_>>(),
        );
        let mut server = Self {
            child: None,
            port: 0,
            tls_port: Some(free_port()),
            extra: Vec::new(),
            dir,
            _temp: Some(temp),
        };
        server.launch(None);
        Some(server)
    }

    /// The URL of the TLS port (`rediss://`).
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://127.0.0.1:{}/0",
            self.tls_port.expect("a TLS server")
        )
    }

    /// The CA of the certificate the TLS port presents: what to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory (its append-only file lives there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts `redis-server` on `port` (a free one when `None`), in
    /// `self.dir`, and waits until it answers PING.
    fn launch(&mut self, port: Option<u16>) {
        for _ in 0..5 {
            let port = port.unwrap_or_else(free_port);
            let log = self.dir.join("redis.log");
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .arg("--dir")
                .arg(&self.dir)
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ])
                .args(["--daemonize", "no", "--protected-mode", "yes"])
                .args(self.tls_args())
                .args(&self.extra)
                .arg("--logfile")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if ping(port) {
                    self.child = Some(child);
                    self.port = port;
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "redis-server did not start; its log: {}",
            std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
        );
    }

    /// Sends one command and returns its reply as text: `:12`, `+OK`,
    /// `$-1` (nil), a bulk string's content, an array's items joined by
    /// spaces; for tests that look at the server's own view.
    pub fn command(&self, args: &[&str]) -> String {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        (&stream).write_all(request.as_bytes()).expect("send");
        read_reply(&mut std::io::BufReader::new(stream))
    }

    /// The server's process id (to stop and continue it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The arguments of the TLS port, if any (clients need no certificate).
    fn tls_args(&self) -> Vec<String> {
        let Some(port) = self.tls_port else {
            return Vec::new();
        };
        let file = |name: &str| self.dir.join(name).to_string_lossy().into_owned();
        vec![
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            file("cert.pem"),
            "--tls-key-file".into(),
            file("key.pem"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }

    /// SIGKILLs the server (no shutdown: what a crash or power loss leaves).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (after
    /// [`kill`](Self::kill)): it reloads its append-only file.
    pub fn restart(&mut self) {
        self.kill();
        self.launch(Some(self.port));
    }
}

/// One RESP reply, as [`RedisServer::command`] shows it.
fn read_reply(from: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    from.read_line(&mut line).expect("a reply");
    let line = line.trim_end().to_owned();
    let count = |l: &str| l[1..].parse::<i64>().expect("a length");
    match line.as_bytes().first() {
        Some(b'$') if count(&line) >= 0 => {
            let mut data = vec![0u8; count(&line) as usize + 2];
            from.read_exact(&mut data).expect("bulk data");
            String::from_utf8_lossy(&data[..data.len() - 2]).into_owned()
        }
        Some(b'*') if count(&line) >= 0 => (0..count(&line))
            .map(|_| read_reply(from))
            .collect::<Vec<_>>()
            .join(" "),
        _ => line,
    }
}

/// Whether a server on `port` answers PING.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = String::new();
    // Answering, with or without a password asked for (not LOADING).
    std::io::BufReader::new(stream)
        .read_line(&mut reply)
        .is_ok()
        && (reply.starts_with("+PONG") || reply.starts_with("-NOAUTH"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
