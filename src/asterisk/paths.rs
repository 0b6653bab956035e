//! Directories and names from asterisk.conf, as the running Asterisk has them.

use std::path::PathBuf;

use crate::sys;

/// # Safety
/// `value` must be one of Asterisk's `ast_config_AST_*` globals, which are set
/// before modules load and only change at restart.
unsafe fn read(value: *const std::ffi::c_char) -> Option<String> {
    // SAFETY: per this function's contract the pointer is NULL or a valid string.
    unsafe { super::string_from(value) }.filter(|s| !s.is_empty())
}

/// The spool directory (`astspooldir`), e.g. `/var/spool/asterisk`.
pub fn spool_dir() -> PathBuf {
    // SAFETY: reading an Asterisk path global, see `read`.
    PathBuf::from(unsafe { read(sys::ast_config_AST_SPOOL_DIR) }.unwrap_or_else(|| "/var/spool/asterisk".into()))
}

/// The directory holding astdb (`astdbdir`), where the embedded history lives.
pub fn db_dir() -> PathBuf {
    // SAFETY: reading an Asterisk path global, see `read`.
    let astdb = unsafe { read(sys::ast_config_AST_DB) }.unwrap_or_else(|| "/var/lib/asterisk/astdb".into());
    PathBuf::from(astdb).parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/asterisk"))
}

/// `systemname` from asterisk.conf, if set.
pub fn system_name() -> Option<String> {
    // SAFETY: reading an Asterisk global, see `read`.
    unsafe { read(sys::ast_config_AST_SYSTEM_NAME) }
}

/// This machine's host name.
pub fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length; gethostname
    // NUL-terminates within it or truncates.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len() - 1) };
    if result != 0 {
        return "asterisk".into();
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
