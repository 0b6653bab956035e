//! Turning the `dsn` key into an ODBC connection string, and showing one
//! without its password.

use std::path::Path;

/// `dsn = asterisk` names a DSN from odbc.ini; anything with `=` is already a
/// connection string; no `dsn` at all means the embedded SQLite file.
pub fn connection_string(dsn: Option<&str>, embedded_dir: &Path) -> String {
    match dsn {
        None => format!("Driver=SQLite3;Database={}", embedded_dir.join("sticky.sqlite3").display()),
        Some(text) if text.contains('=') => text.to_string(),
        Some(name) => format!("DSN={name}"),
    }
}

/// The connection string with password values replaced by `***`.
pub fn redacted(connection: &str) -> String {
    connection
        .split(';')
        .map(|part| match part.split_once('=') {
            Some((key, _)) if ["pwd", "password"].contains(&key.trim().to_ascii_lowercase().as_str()) => {
                format!("{key}=***")
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_dsn() {
        let dir = Path::new("/var/lib/asterisk");
        assert_eq!(connection_string(None, dir), "Driver=SQLite3;Database=/var/lib/asterisk/sticky.sqlite3");
        assert_eq!(connection_string(Some("asterisk"), dir), "DSN=asterisk");
        assert_eq!(
            connection_string(Some("Driver=PostgreSQL Unicode;Server=db"), dir),
            "Driver=PostgreSQL Unicode;Server=db"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redacted("Driver=x;Uid=a;PWD=secret;Port=1"), "Driver=x;Uid=a;PWD=***;Port=1");
        assert_eq!(redacted("DSN=asterisk;Password=s3"), "DSN=asterisk;Password=***");
    }
}
