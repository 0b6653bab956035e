//! `make install` into a staging directory: the module, the XML docs where
//! Asterisk finds third-party docs, and the sample config unless one exists.

use std::fs;
use std::path::Path;
use std::process::Command;

fn install(destdir: &Path) -> std::process::Output {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let module = std::env::var("RES_STICKY_SO").unwrap_or_else(|_| format!("{manifest}/res_sticky.so"));
    assert!(Path::new(&module).is_file(), "{module} does not exist: build it with `make` first");
    Command::new("make")
        .current_dir(manifest)
        .args(["--no-print-directory", "-o", "res_sticky.so", "install"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .args(["MODULES_DIR=/usr/lib/asterisk/modules", "ASTDATADIR=/usr/share/asterisk", "ASTETCDIR=/etc/asterisk"])
        .output()
        .expect("running make install")
}

#[test]
fn make_install_lays_out_module_docs_and_config() {
    let destdir = std::env::temp_dir().join(format!("sticky-install-{}", std::process::id()));
    let _ = fs::remove_dir_all(&destdir);
    let output = install(&destdir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let module = destdir.join("usr/lib/asterisk/modules/res_sticky.so");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = fs::read(manifest.join("res_sticky.so")).unwrap();
    let installed = fs::read(&module).unwrap();
    assert!(installed.starts_with(b"\x7fELF"), "the module is installed");
    assert!(
        installed == built,
        "the installed module is this build's ({} bytes installed, {} built)",
        installed.len(),
        built.len()
    );
    let docs =
        fs::read_to_string(destdir.join("usr/share/asterisk/documentation/thirdparty/res_sticky-en_US.xml")).unwrap();
    assert!(docs.contains("<function name=\"STICKY_ROUTE\""));
    assert_eq!(docs, fs::read_to_string(manifest.join("doc/res_sticky-en_US.xml")).unwrap(), "this checkout's docs");
    let conf = destdir.join("etc/asterisk/sticky.conf");
    let sample = fs::read_to_string(manifest.join("conf/sticky.conf.sample")).unwrap();
    assert_eq!(fs::read_to_string(&conf).unwrap(), sample, "the sample config");
    // An existing sticky.conf is kept.
    fs::write(&conf, "[general]\nwindow = 2h\n").unwrap();
    let again = install(&destdir);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("keeping the existing"));
    assert_eq!(fs::read_to_string(&conf).unwrap(), "[general]\nwindow = 2h\n");
    let _ = fs::remove_dir_all(&destdir);
}
