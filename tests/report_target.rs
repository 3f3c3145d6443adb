//! `drill run --report PATH` checks PATH before anything happens: a report that cannot be written
//! is refused with exit 2 naming it, and no drill starts (no journal, no lab, no lease).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::Drill;

/// `drill run` with `--report report` refuses with exit 2, naming `report` and `why`.
fn refused(report: &Path, why: &str) {
    let state = tempfile::tempdir().unwrap();
    let ran = Drill::new()
        .state_dir(state.path())
        .args(["run", "drills/example.toml", "--lab", "--yes", "--report"])
        .arg(report)
        .expect_code(2)
        .stderr_contains(&format!("--report {}: {why}", report.display()))
        .stderr_contains("nothing was changed");
    assert!(!ran.stderr.contains("drill starting"), "{}", ran.stderr);
    assert!(!state.path().join("journal").exists());
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0);
}

#[test]
fn a_report_in_a_missing_folder_is_refused_and_the_folder_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("missing/report.json");
    refused(
        &report,
        &format!(
            "the folder {} does not exist",
            dir.path().join("missing").display()
        ),
    );
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn a_report_path_that_is_a_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), "is a folder, not a file");
}

#[test]
fn a_report_in_a_folder_that_cannot_be_written_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Permission bits do not stop root; /proc refuses new files to everyone.
    let folder = if std::fs::write(locked.join("probe"), "").is_ok() {
        Path::new("/proc").to_path_buf()
    } else {
        locked.clone()
    };
    refused(
        &folder.join("report.json"),
        &format!("cannot write in {}", folder.display()),
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_scheduler_reports_folder_that_is_a_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reports");
    std::fs::write(&file, "").unwrap();
    Drill::new()
        .state_dir(dir.path())
        .args(["schedule", "drills", "--lab", "--reports"])
        .arg(&file)
        .expect_code(2)
        .stderr_contains(&format!("--reports {}: is not a folder", file.display()));
}
