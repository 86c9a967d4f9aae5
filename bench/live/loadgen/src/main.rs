//! `live-loadgen`: command-line front end. See `--help`.

use colloquy_live_loadgen::{http::Url, procfs, run, selftest, Config, Mode, ResumeBy};
use std::process::ExitCode;
use std::time::Duration;

const HELP: &str = "\
live-loadgen: load generator for a Colloquy live-debate room (loopback only)

Where:
  --events-url URL      the debate's events_url (SSE); or derived from the next two
  --url-base URL        e.g. http://127.0.0.1:8080 (default: taken from --events-url)
  --debate-id ID        debate id: POST {url-base}/api/v1/debates/{id}/messages
  --messages-url URL    override the messages URL
  --token TOKEN         API token for posting (or env COLLOQUY_TOKEN)
What:
  --subscribers N       SSE connections (default 10000)
  --posters K           posting connections (default 1 in rate mode, 8 in push mode)
  --mode rate|push      rate: R msg/s in total; push: each poster closed loop (default rate)
  --rate R              total messages per second in rate mode (default 20)
  --seconds D           length of the posting phase (default 20)
  --storm M             force M disconnects + Last-Event-ID resumes during the phase, then
                        verify every client saw exactly 1..=last seq (exit 1 if not)
  --verify              the same exact-sequence verification without a storm
  --server-pid PID      read the server's VmRSS/CPU from /proc (KB per subscriber)
  --json                print one JSON line with all results last (progress on stderr)
Tuning:
  --ramp N              connections opened per step (default 500)
  --ramp-timeout S      wait at most S seconds per step (default 20)
  --connect-concurrency C  connection attempts in flight at once (default 100)
  --connect-deadline S  stop waiting for connections after S seconds (default 180)
  --settle S            pause after connecting, before the memory reading (default 1)
  --drain S             after posting, wait up to S s for everyone to catch up (default 10)
  --resume header|query resume with Last-Event-ID (default) or ?after=
  --subscriber-auth     send the bearer token on event-stream requests too
  --check-json          parse every event's JSON and check seq/type against id/event
  --arrival-times       also report post-to-arrival (kernel receive timestamps): the
                        latency without the generator's own delay in reading (one more
                        system call per read)
  --io-timeout S        connect/response timeout (default 10)
  --seed N              storm choice seed
  --quiet               no progress lines
  --selftest            check the chunked/SSE decoder on a synthetic stream and exit
Exit: 0 ok, 1 verification failed, 2 usage or setup error (nothing connected/posted).
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Cmd::Help) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Cmd::Selftest) => match selftest() {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("selftest FAILED: {e}");
                ExitCode::from(1)
            }
        },
        Ok(Cmd::Run(cfg, json)) => {
            if let Some(n) = procfs::raise_nofile() {
                let need = (cfg.subscribers + cfg.posters + 64) as u64;
                if n < need {
                    eprintln!("[loadgen] warning: open-file limit {n} is below the {need} needed (ulimit -n)");
                }
            }
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("runtime: {e}");
                    return ExitCode::from(2);
                }
            };
            match rt.block_on(run(*cfg)) {
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
                Ok(report) => {
                    print!("{}", report.to_text());
                    if json {
                        println!("{}", report.to_json());
                    }
                    if report.fatal.is_some() {
                        ExitCode::from(2)
                    } else if report.verify && report.clients_failed > 0 {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
            }
        }
        Err(e) => {
            eprintln!("{e}\n(see --help)");
            ExitCode::from(2)
        }
    }
}

enum Cmd {
    Help,
    Selftest,
    Run(Box<Config>, bool),
}

fn parse(args: &[String]) -> Result<Cmd, String> {
    let mut kv: Vec<(String, Option<String>)> = Vec::new();
    const FLAGS: &[&str] = &[
        "json",
        "verify",
        "subscriber-auth",
        "check-json",
        "arrival-times",
        "quiet",
        "selftest",
        "help",
    ];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(name) = a.strip_prefix("--") else {
            return Err(format!("unexpected argument {a:?}"));
        };
        if name == "h" {
            return Ok(Cmd::Help);
        }
        if let Some((k, v)) = name.split_once('=') {
            kv.push((k.to_string(), Some(v.to_string())));
        } else if FLAGS.contains(&name) {
            kv.push((name.to_string(), None));
        } else {
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            kv.push((name.to_string(), Some(v.clone())));
        }
    }
    let get = |k: &str| {
        kv.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let has = |k: &str| kv.iter().any(|(n, _)| n == k);
    for (k, _) in &kv {
        const KNOWN: &[&str] = &[
            "url-base",
            "debate-id",
            "events-url",
            "messages-url",
            "token",
            "subscribers",
            "posters",
            "mode",
            "rate",
            "seconds",
            "storm",
            "verify",
            "server-pid",
            "json",
            "ramp",
            "ramp-timeout",
            "connect-concurrency",
            "connect-deadline",
            "settle",
            "drain",
            "resume",
            "subscriber-auth",
            "check-json",
            "arrival-times",
            "io-timeout",
            "seed",
            "quiet",
            "selftest",
            "help",
        ];
        if !KNOWN.contains(&k.as_str()) {
            return Err(format!("unknown option --{k}"));
        }
    }
    if has("help") {
        return Ok(Cmd::Help);
    }
    if has("selftest") {
        return Ok(Cmd::Selftest);
    }
    fn num<T: std::str::FromStr>(
        name: &str,
        v: Option<Option<String>>,
    ) -> Result<Option<T>, String> {
        match v {
            None => Ok(None),
            Some(None) => Err(format!("--{name} needs a value")),
            Some(Some(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| format!("--{name}: not a valid number: {s:?}")),
        }
    }
    let s = |k: &str| get(k).flatten();
    let debate_id = s("debate-id");
    let url_base = s("url-base").map(|u| u.trim_end_matches('/').to_string());
    let events = match (s("events-url"), &url_base, &debate_id) {
        (Some(u), _, _) => u,
        (None, Some(b), Some(id)) => {
            let u = format!("{b}/api/v1/debates/{id}/events");
            eprintln!("[loadgen] no --events-url: assuming {u}");
            u
        }
        _ => return Err("give --events-url, or --url-base and --debate-id".into()),
    };
    let events_url = Url::parse(&events)?;
    let base = url_base.unwrap_or_else(|| format!("http://{}", events_url.host_header()));
    let messages_url = match (s("messages-url"), &debate_id) {
        (Some(u), _) => Some(Url::parse(&u)?),
        (None, Some(id)) => Some(Url::parse(&format!("{base}/api/v1/debates/{id}/messages"))?),
        (None, None) => None,
    };
    let mut cfg = Config::new(events_url);
    cfg.messages_url = messages_url;
    cfg.token = s("token").or_else(|| std::env::var("COLLOQUY_TOKEN").ok());
    cfg.mode = match s("mode").as_deref() {
        None | Some("rate") => Mode::Rate,
        Some("push") => Mode::Push,
        Some(m) => return Err(format!("--mode must be rate or push, not {m:?}")),
    };
    cfg.posters = num("posters", get("posters"))?.unwrap_or(match cfg.mode {
        Mode::Rate => 1,
        Mode::Push => 8,
    });
    if let Some(v) = num("subscribers", get("subscribers"))? {
        cfg.subscribers = v;
    }
    if let Some(v) = num("rate", get("rate"))? {
        cfg.rate = v;
    }
    if let Some(v) = num::<f64>("seconds", get("seconds"))? {
        if !(0.0..=3600.0).contains(&v) {
            return Err("--seconds must be between 0 and 3600".into());
        }
        cfg.seconds = v;
    }
    if let Some(v) = num("storm", get("storm"))? {
        cfg.storm = v;
    }
    cfg.verify = has("verify");
    cfg.server_pid = num("server-pid", get("server-pid"))?;
    if let Some(v) = num::<usize>("ramp", get("ramp"))? {
        cfg.ramp = v.max(1);
    }
    if let Some(v) = num::<usize>("connect-concurrency", get("connect-concurrency"))? {
        cfg.connect_concurrency = v.max(1);
    }
    let secs = |name: &str, d: &mut Duration| -> Result<(), String> {
        if let Some(v) = num::<f64>(name, get(name))? {
            if !(0.0..=3600.0).contains(&v) {
                return Err(format!("--{name} must be between 0 and 3600"));
            }
            *d = Duration::from_secs_f64(v);
        }
        Ok(())
    };
    secs("ramp-timeout", &mut cfg.ramp_timeout)?;
    secs("connect-deadline", &mut cfg.connect_deadline)?;
    secs("settle", &mut cfg.settle)?;
    secs("drain", &mut cfg.drain)?;
    secs("io-timeout", &mut cfg.io_timeout)?;
    cfg.resume = match s("resume").as_deref() {
        None | Some("header") => ResumeBy::Header,
        Some("query") => ResumeBy::Query,
        Some(r) => return Err(format!("--resume must be header or query, not {r:?}")),
    };
    cfg.subscriber_auth = has("subscriber-auth");
    cfg.check_json = has("check-json");
    cfg.arrival_times = has("arrival-times");
    cfg.quiet = has("quiet");
    if let Some(v) = num("seed", get("seed"))? {
        cfg.seed = v;
    }
    if cfg.posters > 0 && cfg.messages_url.is_none() {
        return Err(
            "posting needs --debate-id (or --messages-url); use --posters 0 to only listen".into(),
        );
    }
    if cfg.posters > 0 && cfg.token.is_none() {
        return Err("posting needs --token (or env COLLOQUY_TOKEN)".into());
    }
    Ok(Cmd::Run(Box::new(cfg), has("json")))
}
