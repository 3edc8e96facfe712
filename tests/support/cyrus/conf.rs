//! What a test's Cyrus is told and where its programs are: imapd.conf (paths in the temp dir,
//! the namespace of the flavour, sasldb logins, TLS) and cyrus.conf (imap and imaps on
//! loopback, idled), with imapd and idled copied into the temp dir. Debian's binaries live in
//! /usr/lib/cyrus/bin and saslpasswd2 in /usr/sbin, on no ordinary user's PATH.

use super::Flavour;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const ADMIN: &str = "cyrusadmin";
/// The SASL realm of every user: Cyrus looks a login up under `servername`.
pub const REALM: &str = "tend-test";

/// Writes imapd.conf and cyrus.conf into `base` and copies imapd and idled there; `settings`
/// are more imapd.conf lines; without `idled`, idling sessions hear of changes by polling.
pub fn write(
    base: &Path,
    flavour: Flavour,
    (port, tls_port): (u16, u16),
    settings: &str,
    idled: bool,
) {
    let b = base.to_str().expect("temp dir path is UTF-8").to_string();
    let root = is_root();
    // Not root: master cannot drop to `cyrus`, so it must be told that we are the Cyrus user.
    let run_as = if root {
        String::new()
    } else {
        format!("cyrus_user: {}\n", current_user())
    };
    let (unixsep, altns) = match flavour {
        Flavour::Slash => ("yes", "yes"),
        Flavour::Dot => ("no", "no"),
    };
    let conf = format!(
        "configdirectory: {b}/conf\npartition-default: {b}/spool\ndefaultpartition: default\n\
         proc_path: {b}/run/proc\nmboxname_lockpath: {b}/run/lock\nlmtpsocket: {b}/run/lmtp\n\
         idlesocket: {b}/run/idle\nnotifysocket: {b}/run/notify\nservername: {REALM}\n\
         admins: {ADMIN}\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n\
         sasl_sasldb_path: {b}/sasldb2\nsasl_mech_list: PLAIN LOGIN\nallowplaintext: yes\n\
         virtdomains: off\nunixhierarchysep: {unixsep}\naltnamespace: {altns}\n\
         failedloginpause: 0\nsyslog_prefix: tend-cyrus-{port}\n\
         tls_server_cert: {b}/cert.pem\ntls_server_key: {b}/key.pem\numask: 077\n{run_as}{settings}"
    );
    fs::write(base.join("imapd.conf"), conf).expect("write imapd.conf");
    // imapd and idled are copied in: the cyrus user must be able to run them, wherever
    // they were extracted (see `imapd_dir`).
    let own_bin = base.join("bin");
    fs::create_dir_all(&own_bin).expect("create bin dir");
    let from = imapd_dir();
    for name in ["imapd", "idled"] {
        fs::copy(from.join(name), own_bin.join(name)).unwrap_or_else(|e| {
            panic!(
                "copy {name} from {}: {e}: run scripts/test once (it installs cyrus-common and \
                 extracts imapd from Debian's cyrus-imapd into target/tools/cyrus), or set \
                 TEND_CYRUS_BIN to a directory holding imapd and idled",
                from.display()
            )
        });
    }
    let bin = own_bin.display();
    let tools = common_bin_dir();
    let tools = tools.display();
    let c = format!("-C {b}/imapd.conf");
    // idled tells idling sessions of a change at once; without it imapd polls each minute.
    let daemon = if idled {
        format!("  idled cmd=\"{bin}/idled {c}\"\n")
    } else {
        String::new()
    };
    let services = format!(
        "START {{\n  recover cmd=\"{tools}/ctl_cyrusdb {c} -r\"\n}}\n\
         SERVICES {{\n  imap cmd=\"{bin}/imapd {c}\" listen=\"127.0.0.1:{port}\" prefork=0\n  \
         imaps cmd=\"{bin}/imapd -s {c}\" listen=\"127.0.0.1:{tls_port}\" prefork=0\n}}\n\
         EVENTS {{\n}}\nDAEMON {{\n{daemon}}}\n"
    );
    fs::write(base.join("cyrus.conf"), services).expect("write cyrus.conf");
}

/// Where `master` and `ctl_cyrusdb` live: Debian's cyrus-common puts them in /usr/lib/cyrus/bin,
/// never on PATH.
pub fn common_bin_dir() -> PathBuf {
    PathBuf::from("/usr/lib/cyrus/bin")
}

/// Where `imapd` and `idled` are. Debian's cyrus-imapd, which holds them, conflicts with
/// dovecot-imapd (both provide `imap-server`), so beside Dovecot they cannot be installed:
/// scripts/test extracts them from the package into target/tools/cyrus. TEND_CYRUS_BIN wins,
/// then an installed cyrus-imapd, then that extract.
fn imapd_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TEND_CYRUS_BIN") {
        return PathBuf::from(dir);
    }
    let installed = common_bin_dir();
    if installed.join("imapd").is_file() && installed.join("idled").is_file() {
        return installed;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/cyrus")
}

/// `name` from PATH, else /usr/sbin (not on an ordinary user's PATH on Debian).
pub fn sbin(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| Path::new("/usr/sbin").join(name))
}

pub fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
