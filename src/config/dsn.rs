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

/// The `key=value` parts of a connection string, values as written. A
/// value in braces (`PWD={a;b}`, `}}` for a `}` inside) may hold `;`.
pub fn pairs(connection: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = connection;
    while !rest.is_empty() {
        let Some(equals) = rest.find('=') else {
            if !rest.trim().is_empty() {
                pairs.push((rest.trim().to_string(), String::new()));
            }
            break;
        };
        let key = rest[..equals].trim().trim_start_matches(';').trim().to_string();
        let after = &rest[equals + 1..];
        let end = if after.trim_start().starts_with('{') {
            let open = after.len() - after.trim_start().len();
            let mut index = open + 1;
            let bytes = after.as_bytes();
            loop {
                match bytes.get(index) {
                    None => break after.len(),
                    Some(b'}') if bytes.get(index + 1) == Some(&b'}') => index += 2,
                    Some(b'}') => break after[index..].find(';').map_or(after.len(), |semi| index + semi),
                    Some(_) => index += 1,
                }
            }
        } else {
            after.find(';').unwrap_or(after.len())
        };
        pairs.push((key, after[..end].to_string()));
        rest = after.get(end + 1..).unwrap_or("");
    }
    pairs
}

/// Why a `dsn` value looks cut short at a `;`, if it does. Asterisk's config
/// loader starts a comment at an unescaped `;`, so
/// `dsn = Driver=SQLite3;Database=/x` arrives as `Driver=SQLite3`: a driver
/// with nothing to connect to. A connection string that names only a driver
/// (no DSN, database, server or file) is that case.
pub fn looks_cut_at_semicolon(dsn: &str) -> Option<String> {
    if !dsn.contains('=') {
        return None;
    }
    let parts = pairs(dsn);
    let only_driver = !parts.is_empty() && parts.iter().all(|(key, _)| key.eq_ignore_ascii_case("driver"));
    only_driver.then(|| {
        format!(
            "'{}' names an ODBC driver and nothing to connect to: the rest of the line was probably cut at a ';', \
             which starts a comment in Asterisk configs; write each ';' of a connection string as '\\;' \
             (dsn = {}\\;Database=...)",
            dsn.trim(),
            dsn.trim()
        )
    })
}

/// The connection string with password values replaced by `***`.
pub fn redacted(connection: &str) -> String {
    pairs(connection)
        .into_iter()
        .map(|(key, value)| match key.to_ascii_lowercase().as_str() {
            "pwd" | "password" => format!("{key}=***"),
            _ if value.is_empty() && !connection.contains(&format!("{key}=")) => key,
            _ => format!("{key}={value}"),
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

    #[test]
    fn a_driver_alone_looks_cut_at_a_semicolon() {
        let why = looks_cut_at_semicolon("Driver=SQLite3").expect("a driver alone is cut");
        assert!(why.contains("'Driver=SQLite3' names an ODBC driver"), "{why}");
        assert!(why.contains(r"as '\;' (dsn = Driver=SQLite3\;Database=...)"), "{why}");
        assert!(looks_cut_at_semicolon("driver={PostgreSQL Unicode}").is_some());
        assert!(looks_cut_at_semicolon(" Driver = MariaDB ").is_some());
        assert_eq!(looks_cut_at_semicolon("asterisk"), None, "a DSN name");
        assert_eq!(looks_cut_at_semicolon("DSN=asterisk"), None);
        assert_eq!(looks_cut_at_semicolon("Driver=SQLite3;Database=/var/lib/asterisk/h.sqlite3"), None);
        assert_eq!(looks_cut_at_semicolon("Driver=PostgreSQL Unicode;Server=db1"), None);
    }

    #[test]
    fn braced_values_are_kept_whole() {
        assert_eq!(redacted("Driver=x;PWD={a;b=c};Port=1"), "Driver=x;PWD=***;Port=1");
        assert_eq!(redacted("PWD={a}}b;c};Uid=u"), "PWD=***;Uid=u");
        assert_eq!(redacted("pqopt={x=1 y=2};pwd={unclosed;rest"), "pqopt={x=1 y=2};pwd=***");
        let parts = pairs("Driver={PostgreSQL Unicode};Server=db; Database = d ;");
        assert_eq!(parts[0], ("Driver".to_string(), "{PostgreSQL Unicode}".to_string()));
        assert_eq!(parts[2], ("Database".to_string(), " d ".to_string()));
        assert_eq!(parts.len(), 3);
    }
}
