//! A TOML file read for the configuration: its parsed value, its text, and the line of a key
//! named in an error, from the spans toml_edit (the parser under `toml`) records. It does not
//! validate anything; `config` does.

use super::ConfigError;
use std::path::Path;

/// The parsed file and its text (kept to point errors at a line).
pub(super) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<(T, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    // toml's message names the line, the column and the offending key.
    let value = toml::from_str(&text).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    Ok((value, text))
}

/// Appends "(line N)" to a message naming "key `section.leaf`" when the key is in `text`:
/// the span toml_edit (the parser under `toml`) recorded for it, so dotted keys, inline tables
/// and quoted keys are found as well as `[section]` ones.
pub(super) fn locate(text: &str, message: String) -> String {
    let Some(path) = message
        .strip_prefix("key `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(path, _)| path)
    else {
        return message;
    };
    match key_offset(text, path) {
        Some(at) => {
            let line = text[..at.min(text.len())].matches('\n').count() + 1;
            format!("{message} (line {line})")
        }
        None => message,
    }
}

/// Byte offset of the key `a.b.c` in the TOML `text`, when it is there.
fn key_offset(text: &str, path: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let (key, item) = table.get_key_value(part)?;
        if parts.peek().is_none() {
            return key.span().or_else(|| item.span()).map(|r| r.start);
        }
        table = item.as_table_like()?;
    }
    None
}
