//! A configuration file as Asterisk's loader delivers it: sections and
//! `key = value` lines with their line numbers, before any validation.

/// One `key = value` line as Asterisk's loader delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub key: String,
    pub value: String,
    pub line: u32,
}

/// One `[section]` with its lines in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    pub name: String,
    pub entries: Vec<RawEntry>,
}

/// A whole file as loaded, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    pub file: String,
    pub sections: Vec<RawSection>,
}
