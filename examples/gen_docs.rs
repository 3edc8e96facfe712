//! Writes the man pages and the shell completions of `tend`, generated from the same clap
//! definition the binary parses (`tend::cli::Args`), for the Debian package (scripts/deb runs
//! it before `cargo deb`). It owns clap_mangen and clap_complete; it does not install or
//! compress anything (cargo-deb does). An example rather than a `src/bin/`, so the two crates
//! are dev-dependencies: never built into, or compiled for, the `tend` binary.
//!
//!   cargo run --release --example gen_docs -- OUT_DIR
//!
//! leaves OUT_DIR/man/tend.1 (and tend-SUBCOMMAND.1 for each subcommand) and
//! OUT_DIR/completions/{tend.bash,_tend,tend.fish}.

use anyhow::{bail, Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;
use std::path::PathBuf;

/// The files a packaged tend reads and writes, as the unit and config/ describe them.
const FILES: &[(&str, &str)] = &[
    (
        "/etc/tend/tend.toml",
        "Settings shared by every mailbox: the model, the store, the pipeline.",
    ),
    (
        "/etc/tend/mailboxes/*.toml",
        "One watched mailbox per file, named after it. Only *.toml files are read: \
         example.toml.sample is the commented example to copy.",
    ),
    (
        "/etc/tend/credentials/",
        "One secret per file (root's, mode 600; the folder mode 700). The service sees the file \
         NAME as the systemd credential tend_NAME.",
    ),
    (
        "/var/lib/tend",
        "The store (the service's StateDirectory): derived from the mail, except the stage \
         corrections.",
    ),
    (
        "/lib/systemd/system/tend.service",
        "The service, not enabled on install: systemctl enable --now tend once configured.",
    ),
];

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        bail!("usage: gen_docs OUT_DIR");
    };
    let out = PathBuf::from(out);

    let man = out.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    clap_mangen::generate_to(tend::cli::Args::command(), &man)
        .with_context(|| format!("writing the man pages into {}", man.display()))?;
    // tend.1 again, with the FILES and SEE ALSO sections the CLI definition cannot hold.
    let page = man.join("tend.1");
    std::fs::write(&page, main_page()?).with_context(|| format!("writing {}", page.display()))?;

    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("creating {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = tend::cli::Args::command();
        let path = clap_complete::generate_to(shell, &mut cmd, "tend", &completions)
            .with_context(|| format!("writing the {shell} completions"))?;
        println!("{}", path.display());
    }
    println!("{}", man.join("tend.1").display());
    Ok(())
}

/// The main page: clap_mangen's sections (as `generate_to` builds the command), then FILES and
/// SEE ALSO.
fn main_page() -> Result<Vec<u8>> {
    let mut cmd = tend::cli::Args::command().disable_help_subcommand(true);
    cmd.build();
    let man = Man::new(cmd);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let mut roff = Roff::new();
    roff.control("SH", ["FILES"]);
    for (path, what) in FILES {
        roff.control("TP", [] as [&str; 0]);
        roff.text([bold(*path)]);
        roff.text([roman(*what)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        italic("systemctl"),
        roman("(1), "),
        italic("journalctl"),
        roman("(1), "),
        italic("systemd-run"),
        roman("(1), and /usr/share/doc/tend/README.md for the whole setup."),
    ]);
    roff.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    Ok(page)
}
