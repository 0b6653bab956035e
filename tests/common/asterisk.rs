//! One Asterisk instance in the test root: its own config, run, spool, log
//! and database directories and its own SIP / AMI ports, so instances run side
//! by side. Dropping it stops the process, even when the test panicked.

use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use std::thread;
use std::time::{Duration, Instant};

use super::root::{manifest_dir, root, Root};
use super::wait_for;

/// What a test wants different from the stock test configuration.
#[derive(Default, Clone)]
pub struct Options {
    /// sticky.conf; `None` leaves the file out (the module uses its defaults).
    pub sticky_conf: Option<String>,
    /// Extra config files (name, content), e.g. extensions.conf.
    pub files: Vec<(String, String)>,
    /// Environment variables for the Asterisk process (e.g. ODBCINI).
    pub env: Vec<(String, String)>,
}

impl Options {
    pub fn sticky(conf: &str) -> Options {
        Options { sticky_conf: Some(conf.to_string()), ..Options::default() }
    }

    pub fn file(mut self, name: &str, content: &str) -> Options {
        self.files.push((name.to_string(), content.to_string()));
        self
    }
}

pub struct Asterisk {
    root: &'static Root,
    pub name: String,
    /// The instance directory as Asterisk sees it (inside the root).
    pub dir_inside: String,
    /// The same directory on the host.
    pub dir: PathBuf,
    pub sip_port: u16,
    pub ami_port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

static INSTANCES: AtomicU32 = AtomicU32::new(0);

/// A port for a test server, unique across every test process: a counter
/// in the root, advanced under a file lock, from 20000 to 32767 — above the
/// instances' RTP range and below the kernel's ephemeral ports — skipping
/// any port something else holds.
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const LAST: u32 = 32_767;
    let root = root();
    let dir = root.host_path(super::root::TESTS_DIR);
    let _lock = super::root::FileLock::acquire(&dir.join(".ports.lock"));
    let counter = dir.join(".ports.next");
    let mut next: u32 = fs::read_to_string(&counter).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(FIRST);
    loop {
        if !(FIRST..=LAST).contains(&next) {
            next = FIRST;
        }
        let port = next as u16;
        next += 1;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            fs::write(&counter, next.to_string()).expect("port counter");
            return port;
        }
    }
}

/// `STICKY_VALGRIND=<host dir>` (set by `make memcheck`): every Asterisk
/// runs under valgrind memcheck with the suppressions of
/// tests/valgrind.supp, and its reports are copied into that directory when
/// the instance ends. Unset, Asterisk runs as it is.
pub fn valgrind_dir() -> Option<PathBuf> {
    std::env::var_os("STICKY_VALGRIND").filter(|dir| !dir.is_empty()).map(PathBuf::from)
}

/// How many times longer every wait of the harness is: 1, or under
/// valgrind `STICKY_SLOWDOWN` (default 10) — memcheck runs code many times
/// slower, and a test that times out says nothing about memory.
pub fn slowdown() -> u32 {
    if valgrind_dir().is_none() {
        return 1;
    }
    std::env::var("STICKY_SLOWDOWN").ok().and_then(|n| n.parse().ok()).filter(|n| *n >= 1).unwrap_or(10)
}

fn template(name: &str) -> String {
    let path = manifest_dir().join("tests/asterisk").join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Asterisk {
    /// Starts an instance named after the test and waits until it is fully booted.
    pub fn start(test: &str, options: Options) -> Asterisk {
        let root = root();
        let number = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let name = format!("{test}-{}-{number}", std::process::id());
        let dir_inside = format!("{}/{name}", super::root::TESTS_DIR);
        let dir = root.host_path(&dir_inside);
        let _ = fs::remove_dir_all(&dir);
        for sub in ["etc", "run", "spool/outgoing", "log", "db", "lib"] {
            fs::create_dir_all(dir.join(sub)).expect("instance directory");
        }
        let mut asterisk = Asterisk {
            root,
            name,
            dir_inside,
            dir,
            sip_port: free_port(),
            ami_port: free_port(),
            env: options.env.clone(),
            child: None,
        };
        asterisk.write_stock_config(&options);
        asterisk.boot();
        asterisk
    }

    fn write_stock_config(&self, options: &Options) {
        for file in [
            "asterisk.conf",
            "modules.conf",
            "logger.conf",
            "extensions.conf",
            "pjsip.conf",
            "manager.conf",
            "cdr.conf",
            "queues.conf",
            "rtp.conf",
        ] {
            self.write_config(file, &template(file));
        }
        for (file, content) in &options.files {
            self.write_config(file, content);
        }
        if let Some(conf) = &options.sticky_conf {
            self.write_config("sticky.conf", conf);
        }
    }

    /// Writes a file into the instance's config directory, filling in
    /// @DIR@, @NAME@, @MODDIR@, @DATADIR@, @SIP_PORT@ and @AMI_PORT@.
    pub fn write_config(&self, file: &str, content: &str) {
        let content = content
            .replace("@DIR@", &self.dir_inside)
            .replace("@NAME@", &self.name)
            .replace("@MODDIR@", &self.root.module_dir)
            .replace("@DATADIR@", &self.root.data_dir)
            .replace("@SIP_PORT@", &self.sip_port.to_string())
            .replace("@AMI_PORT@", &self.ami_port.to_string());
        fs::write(self.dir.join("etc").join(file), content).expect("writing config");
    }

    pub fn remove_config(&self, file: &str) {
        let _ = fs::remove_file(self.dir.join("etc").join(file));
    }

    fn config_path(&self) -> String {
        format!("{}/etc/asterisk.conf", self.dir_inside)
    }

    fn boot(&mut self) {
        let console = fs::File::create(self.dir.join("log/console.out")).expect("console log");
        let mut command = Command::new("chroot");
        command.arg(&self.root.path);
        if valgrind_dir().is_some() {
            let suppressions = manifest_dir().join("tests/valgrind.supp");
            fs::copy(&suppressions, self.dir.join("etc/valgrind.supp"))
                .unwrap_or_else(|e| panic!("{}: {e}", suppressions.display()));
            let dir = &self.dir_inside;
            command.args([
                "/usr/bin/valgrind".to_string(),
                "--tool=memcheck".into(),
                "--error-limit=no".into(),
                "--num-callers=40".into(),
                "--vgdb=no".into(),
                "--child-silent-after-fork=yes".into(),
                // Leaks count only when definite: Asterisk keeps much of
                // what it allocates until exit on purpose.
                "--leak-check=full".into(),
                "--show-leak-kinds=definite".into(),
                "--errors-for-leak-kinds=definite".into(),
                format!("--suppressions={dir}/etc/valgrind.supp"),
                "--gen-suppressions=all".into(),
                // One report per process (a restart is a new one): text to
                // read, XML for the figures.
                format!("--log-file={dir}/log/valgrind.%p.log"),
                "--xml=yes".into(),
                format!("--xml-file={dir}/log/valgrind.%p.xml"),
            ]);
        }
        let child = command
            .args(["/usr/sbin/asterisk", "-f", "-n", "-C", &self.config_path()])
            // Each SIP call's RTP set-up looks up this host's name and
            // A.ROOT-SERVERS.NET (Asterisk finding its own address); the root
            // knows neither, and a slow resolver once held a call 15 s that
            // way. A second is the most a test call waits for one.
            .env("RES_OPTIONS", "timeout:1 attempts:1")
            .envs(self.env.iter().map(|(k, v)| (k, v.replace("@DIR@", &self.dir_inside))))
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .expect("starting Asterisk");
        self.child = Some(child);
        let booted = wait_for(Duration::from_secs(30), || {
            if !self.is_running() {
                panic!("Asterisk {} exited while booting:\n{}", self.name, self.tail_of_log(40));
            }
            self.try_cli("core waitfullybooted").map(|_| ())
        });
        assert!(
            booted.is_some(),
            "Asterisk {} did not boot in {} s:\n{}",
            self.name,
            30 * slowdown(),
            self.tail_of_log(40)
        );
    }

    /// A logged-in AMI connection to this instance.
    pub fn ami(&self) -> super::ami::Ami {
        super::ami::Ami::connect(self.ami_port)
    }

    /// An AMI connection that receives user events only.
    pub fn ami_user_events(&self) -> super::ami::Ami {
        super::ami::Ami::connect_for(self.ami_port, "user")
    }

    /// Evaluates a dialplan function from the CLI (on a mock channel).
    /// `dialplan eval` parses quotes itself: hostile text goes through
    /// channel variables in real calls, not through here.
    pub fn eval(&self, expression: &str) -> String {
        let output = self.cli(&format!("dialplan eval function {expression}"));
        output
            .lines()
            .find_map(|line| line.strip_prefix("Result: "))
            .map(|value| value.trim_end().to_string())
            .unwrap_or_else(|| panic!("dialplan eval {expression}: {output}"))
    }

    /// Runs a CLI command; `None` if the CLI could not connect (or the
    /// command took over two minutes).
    pub fn try_cli(&self, command: &str) -> Option<String> {
        let config = self.config_path();
        let output = self.root.run("/usr/sbin/asterisk", &["-C", &config, "-rx", command]);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs a CLI command that may take up to `seconds` (an import of
    /// millions of rows); `None` if it failed or took longer.
    pub fn slow_cli(&self, command: &str, seconds: u32) -> Option<String> {
        let config = self.config_path();
        let output = self.root.run_for("/usr/sbin/asterisk", &["-C", &config, "-rx", command], seconds);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs a CLI command and returns what it printed.
    pub fn cli(&self, command: &str) -> String {
        self.try_cli(command).unwrap_or_else(|| panic!("CLI '{command}' failed on {}", self.name))
    }

    /// The instance's full log so far.
    /// The log as Asterisk's logger thread has written it once it has caught
    /// up: lines are queued to that thread, so a line logged just before an
    /// event the test saw may not be in the file yet. Read again until the
    /// file stops growing for 100 ms (at most 2 s).
    pub fn log(&self) -> String {
        let path = self.dir.join("log/full");
        let size = || fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let until = Instant::now() + Duration::from_secs(2);
        let mut last = size();
        loop {
            thread::sleep(Duration::from_millis(100));
            let now = size();
            if now == last || Instant::now() >= until {
                break;
            }
            last = now;
        }
        fs::read_to_string(&path).unwrap_or_default()
    }

    pub fn tail_of_log(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        let console = fs::read_to_string(self.dir.join("log/console.out")).unwrap_or_default();
        format!("{}\n--- console ---\n{}", all[all.len().saturating_sub(lines)..].join("\n"), console)
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let path = self.dir.join("log/full");
        wait_for(timeout, || fs::read_to_string(&path).unwrap_or_default().contains(needle).then_some(())).is_some()
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Sends a CLI stop command and waits for the process to exit.
    pub fn stop_with(&mut self, command: &str, timeout: Duration) -> Option<ExitStatus> {
        let _ = self.try_cli(command);
        let deadline = Instant::now() + timeout * slowdown();
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops (`core stop now`) and boots again with the same directories.
    pub fn restart(&mut self) {
        self.stop_with("core stop now", Duration::from_secs(20)).expect("Asterisk did not stop");
        self.boot();
    }

    /// Boots again after a stop, with the same directories.
    pub fn start_again(&mut self) {
        assert!(!self.is_running(), "{} is still running", self.name);
        self.boot();
    }

    /// The Asterisk process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|child| child.id())
    }

    /// Kills the process with SIGKILL, as a crash, an OOM kill or a power
    /// cut would end it: no unload, no exit handler.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Asterisk {
    /// Under valgrind, copies this instance's reports (one per process
    /// started) into `STICKY_VALGRIND`, named after the instance.
    fn keep_valgrind_reports(&self) {
        let Some(into) = valgrind_dir() else { return };
        let _ = fs::create_dir_all(&into);
        for entry in fs::read_dir(self.dir.join("log")).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with("valgrind.") {
                let _ = fs::copy(entry.path(), into.join(format!("{}.{file}", self.name)));
            }
        }
    }
}

impl Drop for Asterisk {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- the end of {}'s log ---\n{}", self.name, self.tail_of_log(60));
        }
        if self.is_running() && self.stop_with("core stop now", Duration::from_secs(5)).is_none() {
            self.kill();
        }
        self.kill();
        self.keep_valgrind_reports();
        if thread::panicking() {
            super::root::keep_for_inspection(&self.dir);
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
