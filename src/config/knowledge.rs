//! The `knowledge_file` a mailbox (or all of them) gives the model: read whole when the
//! configuration loads, refused beyond its size limit rather than silently cut. It does not
//! decide where the text goes in a prompt; that is `draft::prompt`.

use std::path::PathBuf;

/// The text of a `knowledge_file`: what the user sells, prices, their calendar link. Given to
/// the model whole, so its size is capped at [`KNOWLEDGE_MAX`] when the configuration loads.
#[derive(Debug, Clone, PartialEq)]
pub struct Knowledge {
    pub file: PathBuf,
    pub text: String,
}

/// Largest `knowledge_file`, in bytes (16 KiB: about 4,000 tokens, beside a 12,000-character
/// thread); a bigger one is a config error rather than a silently cut offer.
pub const KNOWLEDGE_MAX: usize = 16 * 1024;

/// Reads a knowledge file for `key`: an error naming the key when it is unreadable, not UTF-8
/// or over [`KNOWLEDGE_MAX`].
pub(super) fn read_knowledge(key: &str, file: PathBuf) -> Result<Knowledge, String> {
    let bytes = std::fs::read(&file)
        .map_err(|e| format!("key `{key}`: cannot read {}: {e}", file.display()))?;
    if bytes.len() > KNOWLEDGE_MAX {
        return Err(format!(
            "key `{key}`: {} has {} bytes; at most {KNOWLEDGE_MAX} (16 KiB) are given to the \
             model, whole: shorten it",
            file.display(),
            bytes.len()
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("key `{key}`: {} is not UTF-8 text", file.display()))?;
    Ok(Knowledge { file, text })
}
