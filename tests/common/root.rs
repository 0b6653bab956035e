//! The provisioned test root (tests/root/provision.sh) and res_sticky's
//! installation into it.

use std::fs;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub struct Root {
    /// The root on the host, e.g. /var/cache/res-sticky/root.
    pub path: PathBuf,
    /// Asterisk's module directory, as seen inside the root.
    pub module_dir: String,
}

/// An exclusive lock on a file, held until dropped (shared by every test process).
pub struct FileLock(fs::File);

impl FileLock {
    pub fn acquire(path: &Path) -> FileLock {
        let file = fs::OpenOptions::new().create(true).write(true).truncate(false).open(path).expect("lock file");
        // SAFETY: flock on a descriptor we own; blocks until granted.
        let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(result, 0, "flock {}", path.display());
        FileLock(file)
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor we locked.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test root, checked and with this build of res_sticky installed.
pub fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(prepare)
}

fn prepare() -> Root {
    assert_eq!(unsafe_geteuid(), 0, "the integration tests run Asterisk in a chroot and must run as root");
    let path = PathBuf::from(std::env::var("STICKY_ROOT").unwrap_or_else(|_| "/var/cache/res-sticky/root".into()));
    assert!(
        path.join(".res-sticky-stamp").is_file() && path.join("usr/sbin/asterisk").is_file(),
        "the test root {} is not provisioned: run `make root` (tests/root/provision.sh)",
        path.display()
    );
    ensure_proc(&path);
    fs::create_dir_all(path.join("run/asterisk")).expect("run/asterisk");
    fs::create_dir_all(path.join("srv/res-sticky-tests")).expect("instances dir");
    let module_dir = fs::read_dir(path.join("usr/lib"))
        .expect("usr/lib")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("asterisk/modules"))
        .find(|dir| dir.join("app_dial.so").is_file())
        .expect("Asterisk's module directory in the root");
    let module_dir_inside = format!("/{}", module_dir.strip_prefix(&path).unwrap().display());
    let _lock = FileLock::acquire(&path.join("srv/res-sticky-tests/.install.lock"));
    let built =
        std::env::var("RES_STICKY_SO").map(PathBuf::from).unwrap_or_else(|_| manifest_dir().join("res_sticky.so"));
    assert!(built.is_file(), "{} does not exist: build the module with `make` first", built.display());
    install_if_changed(&built, &module_dir.join("res_sticky.so"));
    let docs = path.join("usr/share/asterisk/documentation/thirdparty");
    fs::create_dir_all(&docs).expect("thirdparty docs dir");
    install_if_changed(&manifest_dir().join("doc/res_sticky-en_US.xml"), &docs.join("res_sticky-en_US.xml"));
    Root { path, module_dir: module_dir_inside }
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn ensure_proc(root: &Path) {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let target = root.join("proc");
    let mounted = mounts.lines().any(|line| line.split_whitespace().nth(1) == Some(target.to_str().unwrap()));
    if !mounted {
        let status = Command::new("mount").args(["-t", "proc", "proc"]).arg(&target).status().expect("mount");
        assert!(status.success(), "mounting proc into {}", root.display());
    }
}

/// Copies `from` to `to` through a temporary file and a rename, so that an
/// Asterisk starting meanwhile never opens a half-written module.
fn install_if_changed(from: &Path, to: &Path) {
    let new = fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    if fs::read(to).map(|old| old == new).unwrap_or(false) {
        return;
    }
    let temporary = to.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::File::create(&temporary).expect("temporary install file");
    file.write_all(&new).expect("writing the module");
    file.sync_all().expect("fsync");
    fs::rename(&temporary, to).expect("installing the module");
}

impl Root {
    /// Host path of `inside` (an absolute path inside the root).
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.path.join(inside.trim_start_matches('/'))
    }

    /// Runs a program inside the root and waits for it — at most two
    /// minutes, so that a client stuck on a wrong server fails the test
    /// instead of hanging it.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("chroot")
            .arg(&self.path)
            .args(["timeout", "--kill-after=5", "120", program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("chroot {program}: {e}"))
    }
}
