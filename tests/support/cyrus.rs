//! A throwaway real Cyrus IMAP 3.6 (Debian's cyrus-common, with the imapd of cyrus-imapd) per
//! test, configured by `cyrus/conf.rs`: its own temp dir holding config, databases, spool,
//! sockets and a self-signed certificate, free loopback ports, users in a sasldb of its own
//! (`saslpasswd2`), the `master` process in the foreground, killed on drop. Two flavours of the
//! namespace: `Slash` (Cyrus's defaults since 3.0, `/` and top-level folders, drafts in a
//! folder named "Entwürfe" beside a plain "Drafts" that is none) and `Dot` (`.`, everything
//! under INBOX: `INBOX.Drafts`). Folders are created by the user over IMAP with their
//! special-use (RFC 6154 `CREATE ... (USE (\Drafts))`), mail goes in and out over IMAP
//! (`support::server`). Cyrus logs to syslog; `log` gives master's output and the protocol
//! telemetry Cyrus writes for each user into `conf/log/USER/`.

use super::dovecot::{descendants, make_cert, on_free_ports, signal, system_user, wait_for_login};
use super::imap::{quote, utf7, Client};
use super::server::MailServer;
use conf::{ADMIN, REALM};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod conf;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The hierarchy separator and namespace the server is configured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flavour {
    /// `unixhierarchysep: yes`, `altnamespace: yes`: "Sent", "Entwürfe", "Work/2025".
    Slash,
    /// `unixhierarchysep: no`, `altnamespace: no`: "INBOX.Sent", "INBOX.Drafts".
    Dot,
}

/// A running Cyrus with its data; killed on drop.
pub struct Cyrus {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    tls_port: u16,
    flavour: Flavour,
    /// The `cyrus` system user when we run as root (master drops to it); None otherwise.
    owner: Option<(u32, u32)>,
}

impl Cyrus {
    /// Starts a fresh server on free loopback ports; waits until it answers IMAP logins.
    pub fn start(flavour: Flavour) -> Cyrus {
        Cyrus::start_with(flavour, "")
    }

    /// As `start`, with more imapd.conf lines (`settings`, e.g. "specialusealways: 0\n").
    pub fn start_with(flavour: Flavour, settings: &str) -> Cyrus {
        Cyrus::launch(flavour, settings, true)
    }

    /// As `start`, without idled, as Debian's own cyrus.conf has it: an idling session then
    /// hears of new mail only when imapd looks again (`imapidlepoll`, 60 s by default).
    pub fn start_without_idled(flavour: Flavour) -> Cyrus {
        Cyrus::launch(flavour, "", false)
    }

    fn launch(flavour: Flavour, settings: &str, idled: bool) -> Cyrus {
        on_free_ports("cyrus", |port, tls_port| {
            let mut c = Cyrus::prepare(flavour, port, tls_port, settings, idled);
            match c.spawn_and_wait() {
                Ok(()) => Ok(c),
                Err(why) => Err(format!("{why}\n--- cyrus log ---\n{}", c.log())),
            }
        })
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    /// A folder of the user's as the flavour names it: `folder("Sent")` is "Sent" or
    /// "INBOX.Sent"; a path is written with `/` ("Work/2025" or "INBOX.Work.2025").
    pub fn folder(&self, path: &str) -> String {
        match self.flavour {
            Flavour::Slash => path.to_string(),
            Flavour::Dot => format!("INBOX.{}", path.replace('/', ".")),
        }
    }

    /// Creates a folder as the user's client does, with an RFC 6154 attribute when given.
    pub fn create(&self, user: &str, folder: &str, special_use: Option<&str>) {
        let mut c = self.client(user);
        let with = special_use
            .map(|u| format!(" (USE ({u}))"))
            .unwrap_or_default();
        c.run(&format!("CREATE {}{with}", quote(&utf7(folder))));
        c.logout();
    }

    /// A login whose folders carry no special-use, as on a server set up before RFC 6154 or by
    /// a client that never sets it: INBOX, Sent, Drafts and Trash by name only ("INBOX.Drafts"
    /// in the `Dot` flavour, where Courier and Cyrus keep everything).
    pub fn add_user_without_special_use(&self, user: &str, password: &str) {
        self.add_login(user, password);
        for folder in ["Sent", "Drafts", "Trash"] {
            self.create(user, &self.folder(folder), None);
        }
    }

    /// The sasldb entry, the mailbox (created by the admin, as Cyrus wants), the telemetry
    /// directory.
    fn add_login(&self, user: &str, password: &str) {
        assert!(
            !user.is_empty() && !user.contains(['/', '.', '@', ' ', '\n']),
            "plain user names only"
        );
        self.set_password(user, password);
        fs::write(self.base().join(format!("password.{user}")), password).expect("keep password");
        let telemetry = self.base().join("conf/log").join(user);
        fs::create_dir_all(&telemetry).expect("create telemetry dir");
        self.own(&telemetry);
        let mut admin = self.admin();
        let mailbox = match self.flavour {
            Flavour::Slash => format!("user/{user}"),
            Flavour::Dot => format!("user.{user}"),
        };
        admin.run(&format!("CREATE {}", quote(&mailbox)));
        admin.logout();
    }

    /// Stops the server at once: master and everything it started get SIGKILL.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let master = child.id();
        signal("STOP", &[master]);
        let mut pids = vec![master];
        pids.extend(descendants(master));
        signal("KILL", &pids);
        let _ = child.kill();
        let _ = child.wait();
    }

    fn prepare(flavour: Flavour, port: u16, tls_port: u16, settings: &str, idled: bool) -> Cyrus {
        let dir = tempfile::Builder::new()
            .prefix("tend-cyrus-")
            .tempdir()
            .expect("create temp dir");
        let base = dir.path().to_path_buf();
        // The cyrus user must reach everything below (tempfile makes the dir 0700).
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        for sub in [
            "conf",
            "conf/db",
            "conf/socket",
            "conf/log",
            "spool",
            "run",
            "run/proc",
            "run/lock",
        ] {
            fs::create_dir_all(base.join(sub)).expect("create cyrus dir");
        }
        make_cert(&base);
        let owner = conf::is_root()
            .then(|| system_user("cyrus").expect("no `cyrus` user: is cyrus-common installed?"));
        conf::write(&base, flavour, (port, tls_port), settings, idled);
        let cyrus = Cyrus {
            dir,
            child: None,
            port,
            tls_port,
            flavour,
            owner,
        };
        cyrus.set_password(ADMIN, &admin_password(port));
        cyrus.own_all(&base);
        cyrus
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let base = self.base().to_path_buf();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(base.join("master.log"))
            .map_err(|e| format!("open master.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(conf::common_bin_dir().join("master"))
            .arg("-C")
            .arg(base.join("imapd.conf"))
            .arg("-M")
            .arg(base.join("cyrus.conf"))
            .arg("-p")
            .arg(base.join("run/master.pid"))
            .arg("-D")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("spawn cyrus master (is cyrus-imapd installed?): {e}"))?;
        self.child = Some(child);
        let up = wait_for_login(&mut self.child, self.port, "cyrus master", START_TIMEOUT);
        if up.is_err() {
            self.kill();
        }
        up
    }

    /// A sasldb entry for `user` in the server's realm.
    fn set_password(&self, user: &str, password: &str) {
        let db = self.base().join("sasldb2");
        let mut child = Command::new(conf::sbin("saslpasswd2"))
            .arg("-f")
            .arg(&db)
            .args(["-p", "-c", "-u", REALM, user])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run saslpasswd2 (is sasl2-bin installed?)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "saslpasswd2: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.own(&db);
    }

    /// When root, hand a path to the cyrus user: master drops to it and must own its data.
    fn own(&self, path: &Path) {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    fn own_all(&self, path: &Path) {
        self.own(path);
        if path.is_dir() {
            for entry in fs::read_dir(path).expect("read dir") {
                self.own_all(&entry.expect("dir entry").path());
            }
        }
    }

    fn admin(&self) -> Client {
        Client::login(self.port, ADMIN, &admin_password(self.port))
    }
}

impl MailServer for Cyrus {
    fn name(&self) -> String {
        match self.flavour {
            Flavour::Slash => "cyrus (/)".into(),
            Flavour::Dot => "cyrus (.)".into(),
        }
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn tls_port(&self) -> u16 {
        self.tls_port
    }

    fn ca_file(&self) -> PathBuf {
        self.base().join("cert.pem")
    }

    /// master's own output, then each session's protocol telemetry.
    fn log(&self) -> String {
        let mut out = fs::read_to_string(self.base().join("master.log")).unwrap_or_default();
        let Ok(users) = fs::read_dir(self.base().join("conf/log")) else {
            return out;
        };
        for user in users.flatten() {
            let mut files: Vec<PathBuf> = fs::read_dir(user.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|f| f.path())
                .collect();
            // One file per imapd process, in the order they were written.
            files.sort_by_key(|f| fs::metadata(f).and_then(|m| m.modified()).ok());
            for file in files {
                let text = fs::read(&file).unwrap_or_default();
                out.push_str(&format!(
                    "--- {}\n{}\n",
                    file.display(),
                    String::from_utf8_lossy(&text)
                ));
            }
        }
        out
    }

    /// The login, then Sent, Drafts and Trash created by the user with their special-use.
    fn add_user(&self, user: &str, password: &str) {
        self.add_login(user, password);
        self.create(user, &self.folder("Sent"), Some("\\Sent"));
        self.create(user, &self.folder("Trash"), Some("\\Trash"));
        match self.flavour {
            // The drafts folder is found by its attribute, never by a name tend knows.
            Flavour::Slash => {
                self.create(user, "Entwürfe", Some("\\Drafts"));
                self.create(user, "Drafts", None);
            }
            Flavour::Dot => self.create(user, "INBOX.Drafts", Some("\\Drafts")),
        }
    }

    fn password_of(&self, user: &str) -> String {
        fs::read_to_string(self.base().join(format!("password.{user}")))
            .expect("a user added with add_user")
    }

    fn special(&self, attribute: &str) -> String {
        match (attribute, self.flavour) {
            ("\\Drafts", Flavour::Slash) => "Entwürfe".into(),
            ("\\Drafts", Flavour::Dot) => "INBOX.Drafts".into(),
            (other, _) => self.folder(other.trim_start_matches('\\')),
        }
    }

    fn wire(&self, folder: &str) -> String {
        utf7(folder)
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        self.kill();
    }
}

fn admin_password(port: u16) -> String {
    format!("admin-{port}-{}", std::process::id())
}
