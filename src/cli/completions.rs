//! `ftpsfs --completions bash|zsh|fish`: shell completion scripts, made by
//! clap_complete from the same clap definitions that parse the arguments,
//! so they cannot fall behind them. `scripts/install.sh` installs them.

use super::CliError;
use std::io::Write;

/// The whole command line as clap sees it: the mount form, with `probe`
/// as a subcommand (main.rs dispatches `probe` before clap runs).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    super::Args::command().subcommand(super::probe_args::command().name("probe"))
}

/// Writes the completion script for `shell` (`bash`, `zsh`, `fish`,
/// `elvish` or `powershell`) to `out`.
pub fn write(shell: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let parsed: clap_complete::Shell = shell.parse().map_err(|_| {
        CliError::usage(format!(
            "unknown shell {shell:?}: bash, zsh, fish, elvish or powershell"
        ))
    })?;
    clap_complete::generate(parsed, &mut command(), "ftpsfs", out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_name_the_probe_subcommand_and_its_flags() {
        for shell in ["bash", "zsh", "fish"] {
            let mut out = Vec::new();
            write(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("probe"), "{shell}");
            assert!(text.contains("json"), "{shell}");
        }
        assert_eq!(write("tcsh", &mut Vec::new()).unwrap_err().exit_code, 2);
    }
}
