//! The binary's contract for bad input: exit code 2 and one line naming the key or file.

// Test code: a failed step is the test failing, so unwrap/panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn wrd_server(args: &[&str], dir: &Path, password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrd-server"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("USER", "tester")
        .stdin(Stdio::null());
    if let Some(password) = password {
        cmd.env("WRD_PASSWORD", password);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Every case here must fail fast; a server that starts instead is a failed test, not a hang.
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("wrd-server {args:?} did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[track_caller]
fn check(args: &[&str], config: Option<&str>, password: Option<&str>, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = args
        .iter()
        .map(|s| s.replace("{dir}", dir.path().to_str().unwrap()))
        .collect();
    if let Some(config) = config {
        let path = dir.path().join("wrd.toml");
        fs::write(&path, config).unwrap();
        args.splice(1..1, ["--config".to_owned(), path.to_str().unwrap().to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wrd_server(&args, dir.path(), password);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr: {stderr}");
    assert!(
        stderr.contains(expect),
        "{args:?}: `{stderr}` does not mention `{expect}`"
    );
    if !args.iter().any(|a| a.starts_with("--bogus")) {
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn bad_configuration_exits_2_naming_the_problem() {
    check(
        &["serve"],
        Some("listen = \"127.0.0.1:0\"\nmax_clinets = 2\n"),
        Some("pw"),
        "unknown field `max_clinets`",
    );
    check(
        &["serve"],
        Some("[tls]\ncertificate = \"x\"\n"),
        Some("pw"),
        "line 2: unknown field `certificate`",
    );
    check(
        &["serve", "--listen", "nowhere:abc"],
        None,
        Some("pw"),
        "listen: `nowhere:abc`",
    );
    check(
        &["serve"],
        Some("listen = \"300.1.1.1:3389\"\n"),
        Some("pw"),
        "listen: `300.1.1.1:3389`",
    );
    check(
        &["serve", "--cert", "{dir}/missing.pem", "--key", "{dir}/key.pem"],
        None,
        Some("pw"),
        "missing.pem: No such file",
    );
    check(
        &["serve", "--password-file", "{dir}/nope"],
        None,
        None,
        "password file",
    );
    check(
        &["serve", "--config", "{dir}/absent.toml"],
        None,
        Some("pw"),
        "absent.toml",
    );
    check(&["serve"], None, None, "no credentials");
    check(&["serve", "--no-auth"], None, None, "no_auth: refusing");
    check(
        &["serve", "--listen", "127.0.0.1:0", "--size", "20x20"],
        None,
        Some("pw"),
        "size: `20x20`",
    );
}

#[test]
fn unreadable_password_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    fs::write(&pw, "").unwrap();
    let out = wrd_server(
        &["serve", "--password-file", pw.to_str().unwrap()],
        dir.path(),
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(pw.to_str().unwrap()) && stderr.contains("empty"),
        "{stderr}"
    );
    // A directory cannot be read as a password file either.
    let out = wrd_server(
        &["serve", "--password-file", dir.path().to_str().unwrap()],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cert_that_does_not_parse_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    fs::write(&cert, "not a certificate").unwrap();
    fs::write(&key, "not a key").unwrap();
    let out = wrd_server(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        dir.path(),
        Some("pw"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cert.pem"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    let dir = tempfile::tempdir().unwrap();
    let out = wrd_server(&["serve", "--bogus"], dir.path(), Some("pw"));
    assert_eq!(out.status.code(), Some(2));
    let out = wrd_server(&["serve", "--cert", "/x.pem"], dir.path(), Some("pw"));
    assert_eq!(out.status.code(), Some(2), "--cert requires --key");

    let out = wrd_server(&["serve", "--help"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--source",
        "--username",
        "--password-file",
        "--cert",
        "--key",
        "--no-auth",
        "--max-clients",
    ] {
        assert!(help.contains(flag), "help lacks {flag}: {help}");
    }
    assert!(
        help.contains("WRD_PASSWORD"),
        "help says where the password comes from"
    );
}

#[test]
fn address_in_use_is_a_runtime_error() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = wrd_server(&["serve", "--listen", &addr], dir.path(), Some("pw"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
}
