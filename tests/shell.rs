//! Shell habits: completions and manual pages come from the same command-line definition the
//! binary parses, so every subcommand and flag is in them.

use std::process::Command;

use crate::support::Drill;

const SUBCOMMANDS: &[&str] = &[
    "validate",
    "plan",
    "run",
    "lab",
    "recover",
    "report",
    "bench-probes",
    "bench-estate",
    "schedule",
    "cron",
    "completions",
    "man",
];

#[test]
fn bash_completions_parse_and_offer_every_subcommand_and_flag() {
    let ran = Drill::new().args(["completions", "bash"]).expect_code(0);
    let script = ran.stdout.clone();
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "{sub} missing from the completions");
    }
    assert!(script.contains("--lab-endpoint") && script.contains("--time-scale"));
    // bash itself accepts the script, and after sourcing it, `drill r<TAB>` offers run, recover,
    // report.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drill.bash");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let offer = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(drill re); COMP_CWORD=1; _drill drill re drill; echo \"${{COMPREPLY[@]}}\"",
            file.display()
        ))
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&offer.stdout);
    for sub in ["recover", "report"] {
        assert!(offered.split_whitespace().any(|w| w == sub), "{offered}");
    }
    Drill::new()
        .args(["completions", "tcsh"])
        .expect_code(2)
        .stderr_contains("invalid value 'tcsh'");
}

#[test]
fn manual_pages_cover_every_subcommand_and_render() {
    let page = Drill::new().arg("man").expect_code(0).stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH drill 1"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    Drill::new()
        .args(["man", "--dir"])
        .arg(dir.path())
        .expect_code(0);
    for sub in SUBCOMMANDS {
        let path = dir.path().join(format!("drill-{sub}.1"));
        let roff =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(roff.contains(&format!(".TH drill-{sub} 1")), "{roff}");
    }
    // groff renders the run page without a warning, with the subcommand's own description.
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(dir.path().join("drill-run.1"))
        .output()
        .expect("groff (Debian's groff-base) renders the manual pages");
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Run a drill"), "{text}");
}
