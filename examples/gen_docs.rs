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
use std::path::PathBuf;

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
