//! The lab, driven the way the engine drives AWS: unmodified aws-sdk-route53 / aws-sdk-rds clients
//! pointed at its endpoint, real DNS queries to its name server, real HTTP to its regional apps,
//! and boto3 as a non-Rust client. Worlds are seeded from the drill files in `drills/`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use failover_drill::cloud::aws::{RateLimiter, paced_http_client};
use failover_drill::lab::truth::What;
use failover_drill::lab::{self, Fault, LAB_ACCESS_KEY_ID, LAB_SECRET_ACCESS_KEY, Lab, LabOptions};
use failover_drill::spec::{self, Drill};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const API: &str = "api.example.com.";
const PRIMARY_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:example-global-use1";
const SECONDARY_ARN: &str = "arn:aws:rds:us-west-2:123456789012:cluster:example-usw2";
const STOREFRONT_ZONE: &str = "Z0123456789ABCDEFGHIJ";
const STOREFRONT_HC: &str = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d";
const STOREFRONT_SECONDARY: &str = "arn:aws:rds:eu-central-1:123456789012:cluster:storefront-euc1";

fn drill(file: &str) -> Drill {
    spec::load(Path::new("drills").join(file).as_path())
        .unwrap_or_else(|e| panic!("drills/{file} should load: {e}"))
}

fn options(time_scale: f64, faults: &[&str]) -> LabOptions {
    LabOptions {
        time_scale,
        faults: faults
            .iter()
            .map(|f| f.parse::<Fault>().expect("valid fault"))
            .collect(),
        ..LabOptions::default()
    }
}

async fn start(file: &str, opts: LabOptions) -> Lab {
    let clock = opts.clock();
    lab::start(&[drill(file)], opts, clock)
        .await
        .expect("lab starts")
}

fn credentials() -> Credentials {
    Credentials::new(LAB_ACCESS_KEY_ID, LAB_SECRET_ACCESS_KEY, None, None, "lab")
}

/// What every SDK client of these tests shares: the lab's endpoint, a region and the lab's key.
fn sdk_config(lab: &Lab, region: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(lab.aws_endpoint())
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials()),
        )
        .build()
}

/// The lab keeps Route 53's 5 requests per modelled second, as AWS does, so every Route 53 client
/// of these tests is paced on the lab's clock, sharing the lab's one limiter, as the drill's own
/// clients are. (`lab_throttles_route53_past_5_requests_per_modelled_second` is the exception.)
fn paced(lab: &Lab) -> aws_sdk_route53::config::SharedHttpClient {
    paced_http_client(RateLimiter::shared(lab.clock(), &lab.aws_endpoint()))
}

fn route53(lab: &Lab) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk_config(lab, "us-east-1"))
            .http_client(paced(lab))
            .build(),
    )
}

fn route53_without_retries(lab: &Lab) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk_config(lab, "us-east-1"))
            .http_client(paced(lab))
            .retry_config(aws_sdk_route53::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// A Route 53 client with neither pacing nor retries: what a careless client sends.
fn route53_unpaced(lab: &Lab) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk_config(lab, "us-east-1"))
            .retry_config(aws_sdk_route53::config::retry::RetryConfig::disabled())
            .build(),
    )
}

fn rds(lab: &Lab, region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&sdk_config(lab, region))
}

/// Polls `check` every 10 ms until it yields a value; panics after `wall` of real time.
async fn eventually<T, F, Fut>(what: &str, wall: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + wall;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {wall:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn sleep_modelled(lab: &Lab, modelled: Duration) -> impl Future<Output = ()> + use<> {
    tokio::time::sleep(lab.clock().to_real(modelled))
}

// ---- HTTP and DNS by hand, so nothing but the wire is shared with the lab ----

struct HttpReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpReply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &str,
) -> HttpReply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra_headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn app(lab: &Lab, region: &str, method: &str, path: &str, body: &str) -> HttpReply {
    let addr = lab.app_addr(region).expect("a seeded region");
    http(
        addr,
        method,
        path,
        &[("content-type", "application/json")],
        body,
    )
    .await
}

fn query(name: &str, rtype: RecordType, subnet: Option<IpAddr>) -> Vec<u8> {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_str(name).expect("name"), rtype));
    if let Some(ip) = subnet {
        let mut edns = Edns::new();
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(ip, 32, 0)));
        msg.set_edns(edns);
    }
    msg.to_vec().expect("encode")
}

/// One UDP query; None if no answer came within half a second.
async fn dig(lab: &Lab, name: &str, rtype: RecordType, subnet: Option<IpAddr>) -> Option<Message> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket
        .send_to(&query(name, rtype, subnet), lab.dns_addr())
        .await
        .expect("send");
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf))
        .await
        .ok()?
        .expect("recv");
    Some(Message::from_vec(&buf[..n]).expect("decode"))
}

async fn dig_tcp(lab: &Lab, name: &str, rtype: RecordType) -> Message {
    let mut stream = TcpStream::connect(lab.dns_addr()).await.expect("connect");
    let q = query(name, rtype, None);
    stream
        .write_all(&(q.len() as u16).to_be_bytes())
        .await
        .expect("send");
    stream.write_all(&q).await.expect("send");
    let len = stream.read_u16().await.expect("length");
    let mut buf = vec![0; len as usize];
    stream.read_exact(&mut buf).await.expect("read");
    Message::from_vec(&buf).expect("decode")
}

fn answers(msg: &Message) -> Vec<String> {
    let mut out: Vec<String> = msg.answers.iter().map(|r| r.data.to_string()).collect();
    out.sort();
    out
}

async fn a_records(lab: &Lab, name: &str) -> Vec<String> {
    answers(
        &dig(lab, name, RecordType::A, None)
            .await
            .expect("DNS answers"),
    )
}

// ---- Route 53 ----

fn record(name: &str, rtype: RrType, ttl: i64, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .ttl(ttl)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap()
}

/// A copy of a simple or weighted record set with another weight and TTL.
fn reweighted(r: &ResourceRecordSet, weight: Option<i64>, ttl: i64) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(r.name())
        .r#type(r.r#type().clone())
        .set_identifier(r.set_identifier().unwrap_or_default())
        .set_weight(weight)
        .ttl(ttl)
        .set_resource_records(Some(r.resource_records().to_vec()))
        .set_health_check_id(r.health_check_id().map(str::to_string))
        .build()
        .unwrap()
}

fn batch(changes: Vec<(ChangeAction, ResourceRecordSet)>) -> ChangeBatch {
    let mut b = ChangeBatch::builder().comment("lab test");
    for (action, rrs) in changes {
        b = b.changes(
            Change::builder()
                .action(action)
                .resource_record_set(rrs)
                .build()
                .unwrap(),
        );
    }
    b.build().unwrap()
}

async fn zone_id(r53: &aws_sdk_route53::Client, name: &str) -> String {
    let out = r53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .max_items(1)
        .send()
        .await
        .expect("ListHostedZonesByName");
    let zone = &out.hosted_zones()[0];
    assert_eq!(zone.name(), name);
    zone.id().trim_start_matches("/hostedzone/").to_string()
}

async fn api_records(r53: &aws_sdk_route53::Client, zone: &str) -> Vec<ResourceRecordSet> {
    r53.list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(API)
        .start_record_type(RrType::A)
        .send()
        .await
        .expect("ListResourceRecordSets")
        .resource_record_sets()
        .iter()
        .filter(|r| r.name() == API)
        .cloned()
        .collect()
}

async fn wait_insync(lab: &Lab, r53: &aws_sdk_route53::Client, change_id: &str) {
    eventually("INSYNC", Duration::from_secs(20), || async {
        let out = r53
            .get_change()
            .id(change_id)
            .send()
            .await
            .expect("GetChange");
        let info = out.change_info().expect("ChangeInfo");
        (info.status() == &ChangeStatus::Insync).then_some(())
    })
    .await;
    let _ = lab;
}

/// Sets the weights of the example drill's api records (us-east-1, us-west-2); returns the change.
async fn set_weights(
    r53: &aws_sdk_route53::Client,
    zone: &str,
    east: i64,
    west: i64,
    ttl: i64,
) -> String {
    let changes = api_records(r53, zone)
        .await
        .into_iter()
        .map(|r| {
            let weight = if r.set_identifier() == Some("us-east-1") {
                east
            } else {
                west
            };
            (ChangeAction::Upsert, reweighted(&r, Some(weight), ttl))
        })
        .collect();
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch(changes))
        .send()
        .await
        .expect("ChangeResourceRecordSets")
        .change_info()
        .expect("ChangeInfo")
        .id()
        .to_string()
}

#[tokio::test]
async fn lab_seeds_route53_from_the_drill_and_round_trips_changes() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    let got = r53
        .get_hosted_zone()
        .id(&zone)
        .send()
        .await
        .expect("GetHostedZone");
    assert_eq!(got.hosted_zone().unwrap().name(), "example.com.");
    assert!(!got.delegation_set().unwrap().name_servers().is_empty());
    let listed = r53
        .list_hosted_zones()
        .send()
        .await
        .expect("ListHostedZones");
    assert_eq!(listed.hosted_zones().len(), 1);
    assert!(!listed.is_truncated());

    let api = api_records(&r53, &zone).await;
    let seen: Vec<_> = api
        .iter()
        .map(|r| {
            (
                r.set_identifier().unwrap().to_string(),
                r.weight(),
                r.ttl(),
                r.resource_records()[0].value().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "us-east-1".to_string(),
                Some(100),
                Some(300),
                "127.0.0.11".to_string()
            ),
            (
                "us-west-2".to_string(),
                Some(0),
                Some(300),
                "127.0.0.12".to_string()
            ),
        ]
    );

    let change = set_weights(&r53, &zone, 100, 0, 60).await;
    assert!(change.starts_with("/change/C"), "{change}");
    let status = r53
        .get_change()
        .id(&change)
        .send()
        .await
        .expect("GetChange");
    assert_eq!(
        status.change_info().unwrap().status(),
        &ChangeStatus::Pending
    );
    let api = api_records(&r53, &zone).await;
    assert!(
        api.iter().all(|r| r.ttl() == Some(60)),
        "the API shows a change at once"
    );
    assert_eq!(
        api[0].weight(),
        Some(100),
        "an UPSERT keeps the fields it was given"
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_refuses_invalid_change_batches_with_route53_messages() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    let before = lab.snapshot();

    let existing = api_records(&r53, &zone).await.remove(0);
    let err = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch(vec![
            (
                ChangeAction::Create,
                record("new.example.com.", RrType::A, 60, "127.0.0.11"),
            ),
            (ChangeAction::Create, existing.clone()),
        ]))
        .send()
        .await
        .expect_err("CREATE of an existing set");
    assert_eq!(err.code(), Some("InvalidChangeBatch"));
    assert_eq!(
        err.message(),
        Some(
            "[Tried to create resource record set [name='api.example.com.', type='A', set-identifier='us-east-1'] but it already exists]"
        )
    );
    assert!(
        err.into_service_error().is_invalid_change_batch(),
        "the SDK maps it to its modelled error"
    );
    assert_eq!(
        lab.snapshot(),
        before,
        "a refused batch changes nothing, not even its valid part"
    );

    let stale = reweighted(&existing, existing.weight(), 301);
    let err = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch(vec![(ChangeAction::Delete, stale)]))
        .send()
        .await
        .expect_err("DELETE that does not match");
    assert!(
        err.message()
            .unwrap()
            .contains("but the values provided do not match the current values"),
        "{:?}",
        err.message()
    );

    let no_id = ResourceRecordSet::builder()
        .name("w.example.com.")
        .r#type(RrType::A)
        .weight(10)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("127.0.0.11")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch(vec![(ChangeAction::Upsert, no_id)]))
        .send()
        .await
        .expect_err("weighted without SetIdentifier");
    assert_eq!(
        err.message(),
        Some(
            "[Invalid request: Missing field 'SetIdentifier' in Change with [Action=UPSERT, Name=w.example.com., Type=A, SetIdentifier=null]]"
        )
    );

    let err = r53
        .change_resource_record_sets()
        .hosted_zone_id("ZNOSUCHZONE")
        .change_batch(batch(vec![(
            ChangeAction::Upsert,
            record("x.example.com.", RrType::A, 60, "127.0.0.11"),
        )]))
        .send()
        .await
        .expect_err("unknown zone");
    assert_eq!(err.code(), Some("NoSuchHostedZone"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    assert_eq!(lab.snapshot(), before);
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_paginates_record_sets_in_route53_order() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    let mut changes = Vec::new();
    for name in ["b", "a", "z.a", "c"] {
        changes.push((
            ChangeAction::Create,
            record(
                &format!("{name}.example.com."),
                RrType::Txt,
                60,
                "\"hello\"",
            ),
        ));
    }
    for id in ["w2", "w1"] {
        let r = ResourceRecordSet::builder()
            .name("m.example.com.")
            .r#type(RrType::A)
            .set_identifier(id)
            .weight(1)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value("127.0.0.11")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        changes.push((ChangeAction::Create, r));
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch(changes))
        .send()
        .await
        .expect("create");

    let mut pages = 0;
    let mut seen = Vec::new();
    let (mut name, mut rtype, mut ident) = (None::<String>, None::<RrType>, None::<String>);
    loop {
        let out = r53
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .max_items(2)
            .set_start_record_name(name.clone())
            .set_start_record_type(rtype.clone())
            .set_start_record_identifier(ident.clone())
            .send()
            .await
            .expect("page");
        pages += 1;
        assert!(out.resource_record_sets().len() <= 2);
        for r in out.resource_record_sets() {
            seen.push(format!(
                "{} {} {}",
                r.name(),
                r.r#type().as_str(),
                r.set_identifier().unwrap_or("-")
            ));
        }
        if !out.is_truncated() {
            break;
        }
        name = out.next_record_name().map(str::to_string);
        rtype = out.next_record_type().cloned();
        ident = out.next_record_identifier().map(str::to_string);
    }
    assert_eq!(
        seen,
        [
            "example.com. NS -",
            "example.com. SOA -",
            "a.example.com. TXT -",
            "z.a.example.com. TXT -",
            "api.example.com. A us-east-1",
            "api.example.com. A us-west-2",
            "b.example.com. TXT -",
            "c.example.com. TXT -",
            "m.example.com. A w1",
            "m.example.com. A w2",
        ]
    );
    assert_eq!(pages, 5);
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_publishes_changes_to_dns_only_once_insync() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    assert_eq!(a_records(&lab, API).await, ["127.0.0.11"]);

    let change = set_weights(&r53, &zone, 0, 100, 60).await;
    assert_eq!(
        a_records(&lab, API).await,
        ["127.0.0.11"],
        "PENDING: name servers still answer the old weights"
    );
    wait_insync(&lab, &r53, &change).await;
    let msg = dig(&lab, API, RecordType::A, None).await.unwrap();
    assert_eq!(answers(&msg), ["127.0.0.12"]);
    assert_eq!(msg.answers[0].ttl, 60);
    assert!(msg.metadata.authoritative);

    let truth = lab.ground_truth();
    let dns: Vec<_> = truth
        .events
        .iter()
        .filter_map(|e| match &e.what {
            lab::truth::What::Dns { name, after, .. } if name == API => Some((e.t, after.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(dns.len(), 1, "{dns:?}");
    assert_eq!(dns[0].1, ["127.0.0.12"]);
    assert!(
        dns[0].0 >= 30.0,
        "answers changed at INSYNC, {} s after the change",
        dns[0].0
    );
    assert_eq!(truth.initial_dns[&format!("{API} A")], ["127.0.0.11"]);
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_dns_answers_like_a_route53_name_server() {
    let lab = start("example.toml", options(200.0, &[])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;

    let soa = dig(&lab, "example.com.", RecordType::SOA, None)
        .await
        .unwrap();
    assert_eq!(soa.answers.len(), 1);
    let ns = dig_tcp(&lab, "example.com.", RecordType::NS).await;
    assert_eq!(answers(&ns), ["ns-1.lab.", "ns-2.lab."]);
    let nx = dig(&lab, "nope.example.com.", RecordType::A, None)
        .await
        .unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities.len(), 1, "NXDOMAIN carries the zone's SOA");
    let nodata = dig(&lab, API, RecordType::TXT, None).await.unwrap();
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    let outside = dig(&lab, "example.org.", RecordType::A, None)
        .await
        .unwrap();
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);
    assert_eq!(
        answers(&dig_tcp(&lab, "us-west-2.app.lab.", RecordType::A).await),
        ["127.0.0.12"]
    );

    // Latency records: the client's region comes from the EDNS client subnet.
    let mut changes = Vec::new();
    for (region, ip) in [("us-east-1", "127.0.0.11"), ("us-west-2", "127.0.0.12")] {
        let r = ResourceRecordSet::builder()
            .name("lat.example.com.")
            .r#type(RrType::A)
            .set_identifier(region)
            .region(region.into())
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(ip).build().unwrap())
            .build()
            .unwrap();
        changes.push((ChangeAction::Create, r));
    }
    let change = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch(changes))
        .send()
        .await
        .expect("create latency records");
    wait_insync(&lab, &r53, change.change_info().unwrap().id()).await;
    let west: IpAddr = "127.0.0.12".parse().unwrap();
    let from_west = dig(&lab, "lat.example.com.", RecordType::A, Some(west))
        .await
        .unwrap();
    assert_eq!(answers(&from_west), ["127.0.0.12"]);
    let echoed = from_west
        .edns
        .as_ref()
        .and_then(|e| e.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet));
    assert!(
        matches!(echoed, Some(EdnsOption::Subnet(s)) if s.addr() == west),
        "the client subnet is echoed: {echoed:?}"
    );
    assert_eq!(a_records(&lab, "lat.example.com.").await, ["127.0.0.11"]);

    // Weighted 50/50: both answers show up, and TestDNSAnswer agrees with the name server.
    set_weights(&r53, &zone, 50, 50, 60).await;
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "only saw {seen:?}");
        seen.extend(a_records(&lab, API).await);
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["127.0.0.11", "127.0.0.12"]
    );
    let test = r53
        .test_dns_answer()
        .hosted_zone_id(&zone)
        .record_name("lat.example.com")
        .record_type(RrType::A)
        .edns0_client_subnet_ip("127.0.0.12")
        .send()
        .await
        .expect("TestDNSAnswer");
    assert_eq!(test.record_data(), ["127.0.0.12"]);
    assert_eq!(test.response_code(), "NOERROR");
    lab.shutdown().await;
}

const BIG_TXT: &str = "big.example.com.";

/// Creates `big.example.com. TXT` with eight 100-character strings: about 940 bytes of answer,
/// over the 512 of plain DNS and under the lab's 1,232; returns the values.
async fn seed_big_txt(lab: &Lab) -> Vec<String> {
    let r53 = route53(lab);
    let zone = zone_id(&r53, "example.com.").await;
    let values: Vec<String> = (0..8)
        .map(|i| format!("\"{}\"", char::from(b'a' + i).to_string().repeat(100)))
        .collect();
    let set = ResourceRecordSet::builder()
        .name(BIG_TXT)
        .r#type(RrType::Txt)
        .ttl(60)
        .set_resource_records(Some(
            values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap();
    let change = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch(vec![(ChangeAction::Create, set)]))
        .send()
        .await
        .expect("create the big TXT set");
    wait_insync(lab, &r53, change.change_info().unwrap().id()).await;
    values
}

/// One UDP query for the big TXT set, with an OPT record offering `payload` bytes if given;
/// the response's bytes as they came.
async fn dig_big_txt(lab: &Lab, payload: Option<u16>) -> Vec<u8> {
    let mut msg = Message::query();
    msg.add_query(Query::query(
        Name::from_str(BIG_TXT).expect("name"),
        RecordType::TXT,
    ));
    if let Some(payload) = payload {
        let mut edns = Edns::new();
        edns.set_max_payload(payload);
        msg.set_edns(edns);
    }
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket
        .send_to(&msg.to_vec().expect("encode"), lab.dns_addr())
        .await
        .expect("send");
    let mut buf = vec![0; 65_535];
    let n = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf))
        .await
        .expect("an answer")
        .expect("recv");
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn lab_dns_truncates_whole_records_to_the_clients_limit() {
    let lab = start("example.toml", options(200.0, &[])).await;
    let values = seed_big_txt(&lab).await;

    for (payload, limit) in [(None, 512), (Some(512), 512), (Some(100), 512)] {
        let wire = dig_big_txt(&lab, payload).await;
        assert!(wire.len() <= limit, "{payload:?}: {} bytes", wire.len());
        // Every byte is accounted for: reading what the header counts ends at the last byte
        // (a partial record after the counted ones is dnspython's TrailingJunk).
        let mut decoder = BinDecoder::new(&wire);
        let msg = Message::read(&mut decoder).expect("a truncated answer still parses");
        assert!(
            decoder.is_empty(),
            "{payload:?}: {} bytes after the message",
            decoder.len()
        );
        assert!(msg.metadata.truncation, "{payload:?}: TC is set");
        assert_eq!(
            usize::from(u16::from_be_bytes([wire[6], wire[7]])),
            msg.answers.len(),
            "{payload:?}: ANCOUNT is what was sent"
        );
        assert!(
            (1..values.len()).contains(&msg.answers.len()),
            "{payload:?}: whole records up to the limit, {} of them",
            msg.answers.len()
        );
        assert_eq!(msg.edns.is_some(), payload.is_some(), "{payload:?}: OPT");
        if let Some(edns) = &msg.edns {
            assert_eq!(edns.max_payload(), 1232, "the server's own payload size");
        }
    }

    for (payload, tcp) in [(Some(4096), false), (None, true)] {
        let msg = if tcp {
            dig_tcp(&lab, BIG_TXT, RecordType::TXT).await
        } else {
            let wire = dig_big_txt(&lab, payload).await;
            assert!(
                wire.len() > 512 && wire.len() <= 1232,
                "{} bytes",
                wire.len()
            );
            Message::from_vec(&wire).expect("decode")
        };
        assert!(!msg.metadata.truncation, "tcp {tcp}: the whole set fits");
        let mut expected: Vec<String> = values.iter().map(|v| v.replace('"', "")).collect();
        expected.sort();
        assert_eq!(answers(&msg), expected, "tcp {tcp}");
    }
    lab.shutdown().await;
}

/// dnspython's view of the big TXT set over UDP: plain DNS, EDNS offering 512 and 4096 bytes.
/// `dns.query.udp` raises `TrailingJunk` on bytes after the records the header counts.
const DNSPYTHON_SCRIPT: &str = r#"
import json, os
import dns.flags, dns.message, dns.query

host, port = os.environ["LAB_DNS"].rsplit(":", 1)
out = {}
for case, edns, payload in [("plain", False, None), ("edns512", 0, 512), ("edns4096", 0, 4096)]:
    kw = {"use_edns": edns} if payload is None else {"use_edns": edns, "payload": payload}
    q = dns.message.make_query("big.example.com.", "TXT", **kw)
    r = dns.query.udp(q, host, port=int(port), timeout=2, source="127.0.0.1")
    out[case] = {
        "tc": bool(r.flags & dns.flags.TC),
        "wire": len(r.wire),
        "ancount": int.from_bytes(r.wire[6:8], "big"),
        "answers": sum(len(rrset) for rrset in r.answer),
        "opt_payload": r.payload if r.edns >= 0 else None,
    }
print(json.dumps(out))
"#;

#[tokio::test]
async fn lab_dns_truncation_parses_in_dnspython() {
    let lab = start("example.toml", options(200.0, &[])).await;
    let values = seed_big_txt(&lab).await;
    let dns = lab.dns_addr().to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", DNSPYTHON_SCRIPT])
            .env("LAB_DNS", dns)
            .stdin(Stdio::null())
            .output()
            .expect("python3 runs (dnspython is installed with moto; see .ci/run)")
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "dnspython script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON from the script");
    for case in ["plain", "edns512"] {
        let c = &out[case];
        assert_eq!(c["tc"], true, "{case}: {c}");
        assert!(c["wire"].as_u64().unwrap() <= 512, "{case}: {c}");
        assert_eq!(c["ancount"], c["answers"], "{case}: {c}");
        assert!(c["answers"].as_u64().unwrap() > 0, "{case}: {c}");
    }
    assert_eq!(out["plain"]["opt_payload"], serde_json::Value::Null);
    assert_eq!(out["edns512"]["opt_payload"], 1232);
    let full = &out["edns4096"];
    assert_eq!(full["tc"], false, "{full}");
    assert_eq!(full["answers"], values.len(), "{full}");
    assert!(full["wire"].as_u64().unwrap() > 512, "{full}");
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_health_checks_guard_versions_and_drive_failover_answers() {
    let lab = start("failover-records.toml", options(100.0, &[])).await;
    let r53 = route53(&lab);
    assert_eq!(
        zone_id(&r53, "storefront.example.").await,
        STOREFRONT_ZONE,
        "a zone named by id keeps it, named after its records"
    );
    let www = "www.storefront.example.";
    assert_eq!(
        a_records(&lab, www).await,
        ["127.0.0.11"],
        "PRIMARY while healthy"
    );
    let db = dig(&lab, "db.storefront.example.", RecordType::A, None)
        .await
        .unwrap();
    assert_eq!(
        answers(&db),
        ["127.0.0.11", "eu-west-1.app.lab."],
        "a CNAME is chased into app.lab."
    );

    let hc = r53
        .get_health_check()
        .health_check_id(STOREFRONT_HC)
        .send()
        .await
        .expect("GetHealthCheck");
    let hc = hc.health_check().unwrap();
    assert_eq!(hc.health_check_version(), 1);
    let config = hc.health_check_config().unwrap();
    assert_eq!(config.r#type().as_str(), "HTTP");
    assert_eq!(config.inverted(), Some(false));

    let updated = r53
        .update_health_check()
        .health_check_id(STOREFRONT_HC)
        .health_check_version(1)
        .inverted(true)
        .send()
        .await
        .expect("UpdateHealthCheck");
    assert_eq!(updated.health_check().unwrap().health_check_version(), 2);
    let err = r53
        .update_health_check()
        .health_check_id(STOREFRONT_HC)
        .health_check_version(1)
        .inverted(false)
        .send()
        .await
        .expect_err("a stale version");
    assert_eq!(err.code(), Some("HealthCheckVersionMismatch"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 409);
    assert!(err.into_service_error().is_health_check_version_mismatch());

    eventually(
        "checkers to report the inversion",
        Duration::from_secs(10),
        || async {
            let status = r53
                .get_health_check_status()
                .health_check_id(STOREFRONT_HC)
                .send()
                .await
                .expect("GetHealthCheckStatus");
            let obs = status.health_check_observations();
            assert_eq!(obs.len(), 8);
            obs.iter()
                .all(|o| {
                    o.status_report()
                        .and_then(|s| s.status())
                        .is_some_and(|s| s.starts_with("Failure"))
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        a_records(&lab, www).await,
        ["127.0.0.12"],
        "SECONDARY once PRIMARY is unhealthy"
    );

    r53.update_health_check()
        .health_check_id(STOREFRONT_HC)
        .health_check_version(2)
        .inverted(false)
        .send()
        .await
        .expect("revert");
    eventually("PRIMARY again", Duration::from_secs(10), || async {
        (a_records(&lab, www).await == ["127.0.0.11"]).then_some(())
    })
    .await;
    let err = r53
        .get_health_check()
        .health_check_id("no-such-check")
        .send()
        .await
        .expect_err("unknown check");
    assert_eq!(err.code(), Some("NoSuchHealthCheck"));
    lab.shutdown().await;
}

// ---- RDS ----

#[derive(Debug, Clone, PartialEq)]
struct GlobalView {
    status: String,
    failover: Option<String>,
    writer: Option<String>,
    sync: Vec<(String, String)>,
}

async fn global_view(client: &aws_sdk_rds::Client, id: &str) -> GlobalView {
    let out = client
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
        .expect("DescribeGlobalClusters");
    let g = &out.global_clusters()[0];
    GlobalView {
        status: g.status().unwrap_or_default().to_string(),
        failover: g
            .failover_state()
            .and_then(|f| f.status())
            .map(|s| s.as_str().to_string()),
        writer: g
            .global_cluster_members()
            .iter()
            .find(|m| m.is_writer() == Some(true))
            .and_then(|m| m.db_cluster_arn())
            .map(str::to_string),
        sync: g
            .global_cluster_members()
            .iter()
            .filter_map(|m| {
                Some((
                    m.db_cluster_arn()?.to_string(),
                    m.synchronization_status()?.as_str().to_string(),
                ))
            })
            .collect(),
    }
}

#[tokio::test]
async fn lab_rds_region_comes_from_the_sigv4_scope() {
    let lab = start("example.toml", options(100.0, &[])).await;
    for (region, id) in [
        ("us-east-1", "example-global-use1"),
        ("us-west-2", "example-usw2"),
    ] {
        let out = rds(&lab, region)
            .describe_db_clusters()
            .send()
            .await
            .expect("DescribeDBClusters");
        let ids: Vec<_> = out
            .db_clusters()
            .iter()
            .map(|c| c.db_cluster_identifier().unwrap())
            .collect();
        assert_eq!(ids, [id], "{region} sees only its own clusters");
        assert_eq!(out.db_clusters()[0].status(), Some("available"));
        assert_eq!(
            out.db_clusters()[0].global_cluster_identifier(),
            Some("example-global")
        );
    }
    let err = rds(&lab, "us-east-1")
        .describe_db_clusters()
        .db_cluster_identifier("example-usw2")
        .send()
        .await
        .expect_err("a bare id from another region");
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&err),
        Some("DBClusterNotFoundFault")
    );
    assert!(err.into_service_error().is_db_cluster_not_found_fault());
    let found = rds(&lab, "us-west-2")
        .describe_db_clusters()
        .db_cluster_identifier(SECONDARY_ARN)
        .send()
        .await
        .expect("by ARN in its region");
    assert_eq!(found.db_clusters().len(), 1);

    let view = global_view(&rds(&lab, "us-west-2"), "example-global").await;
    assert_eq!(view.writer.as_deref(), Some(PRIMARY_ARN));
    assert_eq!(
        view.sync,
        [(SECONDARY_ARN.to_string(), "connected".to_string())]
    );
    let err = rds(&lab, "us-east-1")
        .describe_global_clusters()
        .global_cluster_identifier("nope")
        .send()
        .await
        .expect_err("unknown global cluster");
    assert!(err.into_service_error().is_global_cluster_not_found_fault());
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_switchover_walks_the_documented_states_with_a_short_write_outage() {
    let lab = start("example.toml", options(20.0, &[])).await;
    let client = rds(&lab, "us-west-2");
    assert_eq!(
        app(&lab, "us-east-1", "POST", "/canary", r#"{"seq": 1}"#)
            .await
            .status,
        200
    );

    let out = client
        .switchover_global_cluster()
        .global_cluster_identifier("example-global")
        .target_db_cluster_identifier(SECONDARY_ARN)
        .send()
        .await
        .expect("SwitchoverGlobalCluster");
    let g = out.global_cluster().unwrap();
    assert_eq!(
        g.failover_state().unwrap().status().unwrap().as_str(),
        "pending"
    );
    assert_eq!(
        g.failover_state().unwrap().to_db_cluster_arn(),
        Some(SECONDARY_ARN)
    );
    assert_eq!(
        g.failover_state().unwrap().is_data_loss_allowed(),
        Some(false)
    );
    let err = client
        .failover_global_cluster()
        .global_cluster_identifier("example-global")
        .target_db_cluster_identifier(SECONDARY_ARN)
        .allow_data_loss(true)
        .send()
        .await
        .expect_err("busy");
    assert!(
        err.into_service_error()
            .is_invalid_global_cluster_state_fault()
    );

    let mut states: Vec<(Option<String>, Option<String>)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = global_view(&client, "example-global").await;
        let s = (v.failover.clone(), v.writer.clone());
        if states.last() != Some(&s) {
            states.push(s);
        }
        if v.failover.is_none() && v.writer.as_deref() == Some(SECONDARY_ARN) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stuck: {states:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let p = Some(PRIMARY_ARN.to_string());
    let s = Some(SECONDARY_ARN.to_string());
    assert_eq!(
        states,
        [
            (Some("pending".into()), p.clone()),
            (Some("switching-over".into()), p),
            (Some("switching-over".into()), s.clone()),
            (None, s),
        ]
    );

    assert_eq!(
        app(&lab, "us-west-2", "POST", "/canary", r#"{"seq": 2}"#)
            .await
            .status,
        200
    );
    assert_eq!(
        app(&lab, "us-east-1", "POST", "/canary", r#"{"seq": 3}"#)
            .await
            .status,
        503
    );
    let truth = lab.ground_truth();
    assert!(truth.lost_writes.is_empty(), "a switchover loses nothing");
    assert_eq!(truth.write_outages.len(), 1, "{:?}", truth.write_outages);
    let outage = &truth.write_outages[0];
    assert!(
        (5.0..6.5).contains(&outage.seconds),
        "a short outage: {outage:?}"
    );
    let held = app(&lab, "us-west-2", "GET", "/canary", "").await.json();
    assert_eq!(held["seqs"], serde_json::json!([1, 2]));
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_failover_with_data_loss_loses_unreplicated_writes() {
    let lab = start(
        "failover-records.toml",
        options(50.0, &["replication-lag=60s"]),
    )
    .await;
    let client = rds(&lab, "eu-central-1");
    for seq in 1..=3 {
        let r = app(
            &lab,
            "eu-west-1",
            "POST",
            "/canary",
            &format!(r#"{{"seq": {seq}}}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let err = client
        .switchover_global_cluster()
        .global_cluster_identifier("storefront-global")
        .target_db_cluster_identifier("storefront-euc1")
        .send();
    let failover = client
        .failover_global_cluster()
        .global_cluster_identifier("storefront-global")
        .target_db_cluster_identifier(STOREFRONT_SECONDARY)
        .allow_data_loss(true)
        .send()
        .await
        .expect("FailoverGlobalCluster");
    assert_eq!(
        failover
            .global_cluster()
            .unwrap()
            .failover_state()
            .unwrap()
            .is_data_loss_allowed(),
        Some(true)
    );
    // A second request while the failover runs is refused.
    let busy = err.await.expect_err("busy");
    assert!(
        busy.into_service_error()
            .is_invalid_global_cluster_state_fault()
    );

    eventually(
        "the failover to finish",
        Duration::from_secs(10),
        || async {
            let v = global_view(&client, "storefront-global").await;
            (v.failover.is_none() && v.writer.as_deref() == Some(STOREFRONT_SECONDARY)).then_some(v)
        },
    )
    .await;
    let v = global_view(&client, "storefront-global").await;
    assert_eq!(
        v.sync,
        [(
            "arn:aws:rds:eu-west-1:123456789012:cluster:storefront-global-euw1".to_string(),
            "pending-resync".to_string()
        )]
    );
    let truth = lab.ground_truth();
    assert_eq!(truth.lost_writes, [1, 2, 3]);
    let held = app(&lab, "eu-central-1", "GET", "/canary", "").await.json();
    assert_eq!(held["count"], 0);
    assert_eq!(
        app(&lab, "eu-central-1", "POST", "/canary", r#"{"seq": 4}"#)
            .await
            .status,
        200
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_detaches_a_secondary_as_a_standalone_writer() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let client = rds(&lab, "us-west-2");
    let out = client
        .remove_from_global_cluster()
        .global_cluster_identifier("example-global")
        .db_cluster_identifier(SECONDARY_ARN)
        .send()
        .await
        .expect("RemoveFromGlobalCluster");
    assert_eq!(
        out.global_cluster().unwrap().global_cluster_members().len(),
        1
    );
    let health = app(&lab, "us-west-2", "GET", "/healthz", "").await;
    assert_eq!(health.json()["db_role"], "writer");
    assert_eq!(
        app(&lab, "us-west-2", "POST", "/canary", r#"{"seq": 1}"#)
            .await
            .status,
        200
    );
    assert_eq!(lab.snapshot().standalone_clusters, [SECONDARY_ARN]);
    lab.shutdown().await;
}

// ---- Apps ----

#[tokio::test]
async fn lab_apps_serve_health_and_a_replicated_write_canary() {
    let lab = start("example.toml", options(10.0, &[])).await;
    let east = app(&lab, "us-east-1", "GET", "/healthz", "").await;
    assert_eq!(east.status, 200);
    assert_eq!(
        east.json(),
        serde_json::json!({"region": "us-east-1", "db_role": "writer"})
    );
    assert_eq!(east.header("x-lab-region"), Some("us-east-1"));
    let west = app(&lab, "us-west-2", "GET", "/healthz", "").await;
    assert_eq!(west.json()["db_role"], "reader");
    assert_eq!(west.header("x-lab-region"), Some("us-west-2"));

    assert_eq!(
        app(&lab, "us-east-1", "POST", "/canary", r#"{"seq": 7}"#)
            .await
            .status,
        200
    );
    let refused = app(&lab, "us-west-2", "POST", "/canary", r#"{"seq": 8}"#).await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json()["error"],
        "this region's cluster is not the writer"
    );
    assert_eq!(
        app(&lab, "us-east-1", "POST", "/canary", "nonsense")
            .await
            .status,
        400
    );

    // The secondary holds the write only after the replication lag (0.5 s modelled = 50 ms here).
    let west = app(&lab, "us-west-2", "GET", "/canary", "").await.json();
    assert_eq!(west["count"], 0);
    sleep_modelled(&lab, Duration::from_secs(1)).await;
    let west = app(&lab, "us-west-2", "GET", "/canary", "").await.json();
    assert_eq!(west["seqs"], serde_json::json!([7]));
    assert_eq!(west["max_seq"], 7);
    assert_eq!(west["role"], "secondary");
    lab.shutdown().await;
}

// ---- Faults ----

/// Every Route 53 call in the ground truth: when (modelled seconds since the lab started) and the
/// error it was answered with.
fn route53_calls(lab: &Lab) -> Vec<(f64, Option<String>)> {
    lab.ground_truth()
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::ApiCall {
                service,
                error_code,
                ..
            } if service == "route53" => Some((e.t, error_code.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn lab_throttles_route53_past_5_requests_per_modelled_second() {
    // At 1x a second is a real second: 12 unpaced calls go out in far less than that.
    let lab = start("example.toml", options(1.0, &[])).await;
    let r53 = route53_unpaced(&lab);
    let mut outcomes = Vec::new();
    for _ in 0..12 {
        match r53.list_hosted_zones().send().await {
            Ok(_) => outcomes.push("ok"),
            Err(e) => {
                assert_eq!(e.code(), Some("Throttling"), "{e:?}");
                assert_eq!(e.message(), Some("Rate exceeded"));
                assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
                outcomes.push("throttled");
            }
        }
    }
    assert_eq!(outcomes[..5], ["ok"; 5], "{outcomes:?}");
    assert_eq!(outcomes[5..], ["throttled"; 7], "{outcomes:?}");
    let logged = route53_calls(&lab)
        .into_iter()
        .filter(|(_, code)| code.as_deref() == Some("Throttling"))
        .count();
    assert_eq!(logged, 7, "every throttled call is in the ground truth");
    // A second later the account has its budget back.
    tokio::time::sleep(Duration::from_secs(1)).await;
    r53.list_hosted_zones().send().await.expect("a new second");

    // RDS has no such limit in the lab.
    let rds = rds(&lab, "us-east-1");
    for _ in 0..12 {
        rds.describe_global_clusters().send().await.expect("rds");
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_never_throttles_route53_clients_paced_on_its_clock() {
    // At 30x a paced client may send 150 requests per real second; from concurrent tasks.
    let lab = start("example.toml", options(30.0, &[])).await;
    let r53 = route53_without_retries(&lab);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let r53 = r53.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    r53.list_hosted_zones()
                        .send()
                        .await
                        .expect("never throttled");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let calls = route53_calls(&lab);
    assert_eq!(calls.len(), 40);
    // 40 requests at 5 per modelled second: about 8 modelled seconds, not 40 x 6 (real pacing).
    let span = calls.last().unwrap().0 - calls[0].0;
    assert!(span < 12.0, "40 calls took {span} modelled seconds");
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_throttle_fails_calls_at_the_given_rate() {
    let lab = start("example.toml", options(100.0, &["throttle=0.5"])).await;
    let r53 = route53_without_retries(&lab);
    let mut throttled = 0;
    for _ in 0..40 {
        match r53.list_hosted_zones().send().await {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), Some("Throttling"));
                assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
                throttled += 1;
            }
        }
    }
    assert!((5..35).contains(&throttled), "{throttled} of 40 throttled");
    // With the SDK's standard retries every call gets through at this rate, almost always.
    let with_retries = route53(&lab);
    let mut ok = 0;
    for _ in 0..10 {
        if with_retries.list_hosted_zones().send().await.is_ok() {
            ok += 1;
        }
    }
    assert!(ok >= 7, "{ok} of 10 succeeded with retries");
    let logged = lab
        .ground_truth()
        .events
        .iter()
        .filter(|e| {
            matches!(&e.what, lab::truth::What::ApiCall { error_code: Some(c), .. } if c == "Throttling")
        })
        .count();
    assert!(
        logged >= throttled,
        "every throttled call is in the ground truth"
    );
    lab.shutdown().await;
}

async fn switchover(lab: &Lab) {
    rds(lab, "us-west-2")
        .switchover_global_cluster()
        .global_cluster_identifier("example-global")
        .target_db_cluster_identifier(SECONDARY_ARN)
        .send()
        .await
        .expect("SwitchoverGlobalCluster accepted");
}

#[tokio::test]
async fn lab_fault_switchover_fails_cancels_and_keeps_the_writer() {
    let lab = start("example.toml", options(100.0, &["switchover-fails"])).await;
    let before = lab.snapshot();
    switchover(&lab).await;
    let client = rds(&lab, "us-east-1");
    let mut saw_cancelling = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = global_view(&client, "example-global").await;
        saw_cancelling |= v.failover.as_deref() == Some("cancelling");
        assert_eq!(v.writer.as_deref(), Some(PRIMARY_ARN));
        if v.failover.is_none() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never cancelled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(saw_cancelling);
    assert_eq!(lab.snapshot(), before, "the world is as it began");
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_switchover_hangs_until_cancelled() {
    let lab = start("example.toml", options(100.0, &["switchover-hangs=3m"])).await;
    switchover(&lab).await;
    sleep_modelled(&lab, Duration::from_secs(120)).await;
    let client = rds(&lab, "us-east-1");
    let v = global_view(&client, "example-global").await;
    assert_eq!(
        v.failover.as_deref(),
        Some("switching-over"),
        "still hanging after 2 modelled minutes"
    );
    assert_eq!(v.writer.as_deref(), Some(PRIMARY_ARN));
    assert_eq!(
        app(&lab, "us-east-1", "POST", "/canary", r#"{"seq": 1}"#)
            .await
            .status,
        200
    );
    eventually("the hang to end", Duration::from_secs(10), || async {
        global_view(&client, "example-global")
            .await
            .failover
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        global_view(&client, "example-global")
            .await
            .writer
            .as_deref(),
        Some(PRIMARY_ARN)
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_primary_outage_at_promote_stalls_a_switchover() {
    let lab = start("example.toml", options(100.0, &["primary-outage@promote"])).await;
    assert_eq!(
        app(&lab, "us-east-1", "GET", "/healthz", "").await.status,
        200
    );
    switchover(&lab).await;
    let down = app(&lab, "us-east-1", "GET", "/healthz", "").await;
    assert_eq!(down.status, 503);
    let clusters = rds(&lab, "us-east-1")
        .describe_db_clusters()
        .send()
        .await
        .expect("describe");
    assert_eq!(clusters.db_clusters()[0].status(), Some("inaccessible"));
    let client = rds(&lab, "us-west-2");
    eventually(
        "the stalled switchover to be cancelled",
        Duration::from_secs(15),
        || async {
            global_view(&client, "example-global")
                .await
                .failover
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        global_view(&client, "example-global")
            .await
            .writer
            .as_deref(),
        Some(PRIMARY_ARN),
        "a switchover cannot finish without the old writer"
    );
    let truth = lab.ground_truth();
    assert_eq!(truth.write_outages.len(), 1);
    assert_eq!(truth.write_outages[0].to, None, "writes are still down");
    assert_eq!(lab.snapshot().regions_down, ["us-east-1"]);
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_primary_outage_fails_health_checks_and_allows_failover() {
    let lab = start(
        "failover-records.toml",
        options(100.0, &["primary-outage@30s/10m"]),
    )
    .await;
    let www = "www.storefront.example.";
    assert_eq!(
        app(&lab, "eu-west-1", "POST", "/canary", r#"{"seq": 1}"#)
            .await
            .status,
        200
    );
    eventually(
        "DNS failover on its own",
        Duration::from_secs(10),
        || async { (a_records(&lab, www).await == ["127.0.0.12"]).then_some(()) },
    )
    .await;
    let client = rds(&lab, "eu-central-1");
    client
        .failover_global_cluster()
        .global_cluster_identifier("storefront-global")
        .target_db_cluster_identifier(STOREFRONT_SECONDARY)
        .allow_data_loss(true)
        .send()
        .await
        .expect("failover");
    eventually(
        "the promoted secondary takes writes",
        Duration::from_secs(10),
        || async {
            let r = app(&lab, "eu-central-1", "POST", "/canary", r#"{"seq": 2}"#).await;
            (r.status == 200).then_some(())
        },
    )
    .await;
    let v = global_view(&client, "storefront-global").await;
    assert_eq!(
        v.sync[0].1, "pending-resync",
        "the old writer cannot resync while its region is down"
    );
    // The region comes back at 10m 30s modelled; the old writer resyncs a minute later.
    eventually(
        "resync after the outage",
        Duration::from_secs(15),
        || async {
            let v = global_view(&client, "storefront-global").await;
            (v.sync[0].1 == "connected").then_some(())
        },
    )
    .await;
    let truth = lab.ground_truth();
    let faults: Vec<_> = truth
        .events
        .iter()
        .filter_map(|e| match &e.what {
            lab::truth::What::Fault { change, .. } => Some((e.t, change.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        faults,
        [
            (30.0, "region eu-west-1 down".to_string()),
            (630.0, "region eu-west-1 back up".to_string())
        ]
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_replication_lag_delays_the_secondary() {
    let lab = start("example.toml", options(10.0, &["replication-lag=5s"])).await;
    assert_eq!(
        app(&lab, "us-east-1", "POST", "/canary", r#"{"seq": 1}"#)
            .await
            .status,
        200
    );
    sleep_modelled(&lab, Duration::from_secs(2)).await;
    assert_eq!(
        app(&lab, "us-west-2", "GET", "/canary", "").await.json()["count"],
        0
    );
    sleep_modelled(&lab, Duration::from_secs(4)).await;
    assert_eq!(
        app(&lab, "us-west-2", "GET", "/canary", "").await.json()["count"],
        1
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_dns_silent_never_answers() {
    let lab = start("example.toml", options(100.0, &["dns-silent"])).await;
    assert!(dig(&lab, API, RecordType::A, None).await.is_none());
    lab.shutdown().await;

    let lab = start("example.toml", options(100.0, &["dns-silent@promote/1m"])).await;
    assert!(dig(&lab, API, RecordType::A, None).await.is_some());
    switchover(&lab).await;
    assert!(dig(&lab, API, RecordType::A, None).await.is_none());
    eventually(
        "DNS back after a modelled minute",
        Duration::from_secs(10),
        || async { dig(&lab, API, RecordType::A, None).await.map(|_| ()) },
    )
    .await;
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_dns_stale_keeps_answering_the_old_records() {
    let lab = start("example.toml", options(100.0, &["dns-stale@promote/10m"])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    assert_eq!(a_records(&lab, API).await, ["127.0.0.11"]);
    switchover(&lab).await;
    // The API takes the change and reports it INSYNC, TestDNSAnswer shows the new weights...
    let change = set_weights(&r53, &zone, 0, 100, 60).await;
    wait_insync(&lab, &r53, &change).await;
    let test = r53
        .test_dns_answer()
        .hosted_zone_id(&zone)
        .record_name(API)
        .record_type(RrType::A)
        .send()
        .await
        .expect("TestDNSAnswer");
    assert_eq!(test.record_data(), ["127.0.0.12"]);
    // ...but the name servers keep answering what they served when the fault started.
    for _ in 0..20 {
        assert_eq!(a_records(&lab, API).await, ["127.0.0.11"]);
    }
    let truth = lab.ground_truth();
    assert!(
        truth.events.iter().any(|e| matches!(&e.what,
            What::Fault { change, .. } if change.starts_with("DNS server frozen"))),
        "{:?}",
        truth.events
    );
    eventually(
        "the published records once the fault ends",
        Duration::from_secs(20),
        || async { (a_records(&lab, API).await == ["127.0.0.12"]).then_some(()) },
    )
    .await;
    lab.shutdown().await;
}

/// The example drill watching `api-5xx` in both regions, so the lab seeds those alarms.
fn watched_example() -> Drill {
    let mut d = drill("example.toml");
    d.alarms = Some(spec::AlarmWatch {
        alarms: ["us-east-1", "us-west-2"]
            .into_iter()
            .map(|region| spec::AlarmRef {
                arn: format!("arn:aws:cloudwatch:{region}:123456789012:alarm:api-5xx"),
                region: region.to_string(),
                name: "api-5xx".to_string(),
            })
            .collect(),
        interval: Duration::from_secs(10),
    });
    d
}

fn cloudwatch(lab: &Lab, region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&sdk_config(lab, region))
}

#[tokio::test]
async fn lab_cloudwatch_answers_describe_alarms_over_cbor() {
    let opts = options(100.0, &["alarm@promote/1m"]);
    let clock = opts.clock();
    let lab = lab::start(&[watched_example()], opts, clock)
        .await
        .expect("lab starts");
    // Through the drill's own AWS implementation, as `drill run --lab` reaches it.
    let cloud = failover_drill::cloud::aws::connect(failover_drill::cloud::aws::AwsOptions {
        endpoint_url: Some(lab.aws_endpoint()),
        static_credentials: Some((
            LAB_ACCESS_KEY_ID.to_string(),
            LAB_SECRET_ACCESS_KEY.to_string(),
        )),
        regions: vec!["us-east-1".to_string(), "us-west-2".to_string()],
        clock: lab.clock().clone(),
        ..Default::default()
    })
    .await
    .expect("clients");
    let names = ["api-5xx".to_string(), "not-there".to_string()];
    let east = cloud
        .alarms
        .describe_alarms("us-east-1", &names)
        .await
        .expect("DescribeAlarms");
    assert_eq!(east.len(), 1, "{east:?}");
    assert_eq!(east[0].name, "api-5xx");
    assert_eq!(
        east[0].arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx"
    );
    assert_eq!(east[0].state, "OK");
    let started = lab.ground_truth().started_at;
    let updated = east[0].updated_at.expect("StateUpdatedTimestamp");
    assert!(
        (updated - started).num_milliseconds().abs() < 1000,
        "{updated} vs {started}"
    );
    // Each region has its own alarms; a region with none answers with none.
    let west = cloud
        .alarms
        .describe_alarms("us-west-2", &names)
        .await
        .unwrap();
    assert_eq!(
        west[0].arn,
        "arn:aws:cloudwatch:us-west-2:123456789012:alarm:api-5xx"
    );
    assert!(
        cloud
            .alarms
            .describe_alarms("eu-west-1", &names)
            .await
            .unwrap()
            .is_empty()
    );

    // The raw SDK: filters, and errors with their code and status.
    let sdk = cloudwatch(&lab, "us-east-1");
    let out = sdk
        .describe_alarms()
        .alarm_name_prefix("api-")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
        .send()
        .await
        .expect("DescribeAlarms by prefix");
    assert_eq!(out.metric_alarms().len(), 1);
    assert!(out.composite_alarms().is_empty());
    let err = sdk
        .describe_alarms()
        .alarm_names("api-5xx")
        .alarm_name_prefix("api-")
        .send()
        .await
        .expect_err("names and a prefix together");
    assert_eq!(
        aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&err),
        Some("InvalidParameterCombination")
    );
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);

    // SetAlarmState, as AWS offers for testing alarms: one region's alarm only.
    cloudwatch(&lab, "us-west-2")
        .set_alarm_state()
        .alarm_name("api-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("tripped by hand")
        .send()
        .await
        .expect("SetAlarmState");
    let west = cloud
        .alarms
        .describe_alarms("us-west-2", &names)
        .await
        .unwrap();
    assert_eq!(
        (west[0].state.as_str(), west[0].reason.as_str()),
        ("ALARM", "tripped by hand")
    );
    let east = cloud
        .alarms
        .describe_alarms("us-east-1", &names)
        .await
        .unwrap();
    assert_eq!(east[0].state, "OK");
    let err = sdk
        .set_alarm_state()
        .alarm_name("not-there")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
        .state_reason("x")
        .send()
        .await
        .expect_err("no such alarm");
    assert_eq!(
        aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&err),
        Some("ResourceNotFound")
    );

    // The fault: ALARM from the promotion for a modelled minute, then OK again.
    switchover(&lab).await;
    let firing = cloud
        .alarms
        .describe_alarms("us-east-1", &names)
        .await
        .unwrap();
    assert_eq!(firing[0].state, "ALARM");
    assert!(
        firing[0].reason.contains("alarm@promote"),
        "{}",
        firing[0].reason
    );
    eventually("the alarm back to OK", Duration::from_secs(10), || async {
        let now = cloud
            .alarms
            .describe_alarms("us-west-2", &names)
            .await
            .ok()?;
        (now[0].state == "OK").then_some(())
    })
    .await;
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_secondary_pending_resync_refuses_switchover() {
    let lab = start(
        "example.toml",
        options(100.0, &["secondary-pending-resync"]),
    )
    .await;
    let client = rds(&lab, "us-west-2");
    let v = global_view(&client, "example-global").await;
    assert_eq!(
        v.sync,
        [(SECONDARY_ARN.to_string(), "pending-resync".to_string())]
    );
    let err = client
        .switchover_global_cluster()
        .global_cluster_identifier("example-global")
        .target_db_cluster_identifier(SECONDARY_ARN)
        .send()
        .await
        .expect_err("switchover needs a connected secondary");
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&err),
        Some("InvalidDBClusterStateFault")
    );
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_fault_slow_insync_keeps_changes_pending() {
    let lab = start("example.toml", options(100.0, &["slow-insync=300s"])).await;
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    let change = set_weights(&r53, &zone, 100, 0, 60).await;
    sleep_modelled(&lab, Duration::from_secs(60)).await;
    let status = r53
        .get_change()
        .id(&change)
        .send()
        .await
        .expect("GetChange");
    assert_eq!(
        status.change_info().unwrap().status(),
        &ChangeStatus::Pending
    );
    wait_insync(&lab, &r53, &change).await;
    let insync_at = lab
        .ground_truth()
        .events
        .iter()
        .find(|e| matches!(&e.what, lab::truth::What::State { change, .. } if change == "INSYNC"))
        .map(|e| e.t)
        .expect("INSYNC logged");
    assert!(insync_at >= 300.0, "{insync_at}");
    lab.shutdown().await;
}

// ---- The endpoint's edges ----

#[tokio::test]
async fn lab_endpoint_answers_bad_requests_with_aws_errors() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let addr: SocketAddr = lab
        .aws_endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let unsigned = http(addr, "GET", "/2013-04-01/hostedzone", &[], "").await;
    assert_eq!(unsigned.status, 403);
    assert!(
        unsigned
            .body
            .contains("<Code>MissingAuthenticationToken</Code>")
    );
    assert!(unsigned.header("x-amzn-RequestId").is_some());

    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={LAB_ACCESS_KEY_ID}/20240101/us-west-2/rds/aws4_request, SignedHeaders=host, Signature=0"
    );
    let form = [
        ("authorization", auth.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let bogus = http(
        addr,
        "POST",
        "/",
        &form,
        "Action=LaunchRockets&Version=2014-10-31",
    )
    .await;
    assert_eq!(bogus.status, 400);
    assert!(
        bogus.body.contains("<Code>InvalidAction</Code>"),
        "{}",
        bogus.body
    );
    assert!(bogus.body.contains("<RequestId>"));
    let missing = http(
        addr,
        "POST",
        "/",
        &form,
        "Action=SwitchoverGlobalCluster&Version=2014-10-31",
    )
    .await;
    assert!(
        missing.body.contains("<Code>MissingParameter</Code>"),
        "{}",
        missing.body
    );
    let odd_path = http(addr, "DELETE", "/2013-04-01/hostedzone/Z1", &form, "").await;
    assert_eq!(odd_path.status, 400);
    assert!(odd_path.body.contains("<ErrorResponse"));
    let garbage = http(
        addr,
        "POST",
        "/2013-04-01/hostedzone/Z1/rrset/",
        &form,
        "<ChangeResourceRecordSetsRequest><ChangeBatch>",
    )
    .await;
    assert_eq!(
        garbage.status, 404,
        "the zone is checked first: {}",
        garbage.body
    );

    let wrong = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk_config(&lab, "us-east-1"))
            .credentials_provider(Credentials::new("AKIAOTHER", "x", None, None, "other"))
            .build(),
    );
    let err = wrong
        .list_hosted_zones()
        .send()
        .await
        .expect_err("wrong key");
    assert_eq!(err.code(), Some("InvalidClientTokenId"));
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_startup_line_names_every_address() {
    let lab = start("example.toml", options(30.0, &[])).await;
    let line: serde_json::Value = serde_json::from_str(&lab.startup_line()).expect("JSON");
    assert_eq!(line["aws_endpoint"], lab.aws_endpoint());
    assert_eq!(line["dns"], lab.dns_addr().to_string());
    let east = line["regions"]["us-east-1"]["app"].as_str().unwrap();
    let west = line["regions"]["us-west-2"]["app"].as_str().unwrap();
    assert!(east.starts_with("http://127.0.0.11:"), "{east}");
    assert_eq!(
        east.rsplit(':').next(),
        west.rsplit(':').next(),
        "one port for every region"
    );
    assert!(west.starts_with("http://127.0.0.12:"));
    assert_eq!(lab.regions().len(), 2);
    lab.shutdown().await;
}

// ---- A whole drill by hand, and the world ends as it began ----

#[tokio::test]
async fn lab_world_ends_as_it_began_after_a_drill_by_hand() {
    let lab = start("example.toml", options(200.0, &[])).await;
    let before = lab.snapshot();
    let r53 = route53(&lab);
    let zone = zone_id(&r53, "example.com.").await;
    let client = rds(&lab, "us-west-2");
    let promote = |target: &'static str| {
        let client = client.clone();
        async move {
            client
                .switchover_global_cluster()
                .global_cluster_identifier("example-global")
                .target_db_cluster_identifier(target)
                .send()
                .await
                .expect("switchover");
            eventually("the switchover", Duration::from_secs(20), || async {
                let v = global_view(&client, "example-global").await;
                (v.failover.is_none() && v.writer.as_deref() == Some(target)).then_some(())
            })
            .await;
        }
    };

    let lowered = set_weights(&r53, &zone, 100, 0, 60).await;
    wait_insync(&lab, &r53, &lowered).await;
    promote(SECONDARY_ARN).await;
    let shifted = set_weights(&r53, &zone, 0, 100, 60).await;
    wait_insync(&lab, &r53, &shifted).await;
    assert_eq!(a_records(&lab, API).await, ["127.0.0.12"]);
    promote(PRIMARY_ARN).await;
    let back = set_weights(&r53, &zone, 100, 0, 60).await;
    wait_insync(&lab, &r53, &back).await;
    let restored = set_weights(&r53, &zone, 100, 0, 300).await;
    wait_insync(&lab, &r53, &restored).await;

    assert_eq!(lab.snapshot(), before);
    let truth = lab.ground_truth();
    assert_eq!(truth.write_outages.len(), 2, "one outage per promotion");
    assert!(truth.lost_writes.is_empty());
    let calls = truth
        .events
        .iter()
        .filter(|e| matches!(e.what, lab::truth::What::ApiCall { .. }))
        .count();
    assert!(calls > 10);
    let json = serde_json::to_value(&truth).expect("serialisable");
    assert_eq!(json["time_scale"], 200.0);
    assert_eq!(json["timings"]["insync"], 30.0, "durations are seconds");
    lab.shutdown().await;
}

// ---- A non-Rust client ----

const BOTO3_SCRIPT: &str = r#"
import json, os, sys, time
import boto3
from botocore.exceptions import ClientError

endpoint = os.environ["LAB_ENDPOINT"]
kw = dict(endpoint_url=endpoint, aws_access_key_id=os.environ["LAB_KEY"],
          aws_secret_access_key=os.environ["LAB_SECRET"])
r53 = boto3.client("route53", region_name="us-east-1", **kw)
out = {}
zone = r53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"][0]
zid = zone["Id"]
out["zone"] = zone["Name"]
rrs = r53.list_resource_record_sets(HostedZoneId=zid, StartRecordName="api.example.com",
                                    StartRecordType="A")["ResourceRecordSets"]
api = [r for r in rrs if r["Name"] == "api.example.com."]
out["weights"] = {r["SetIdentifier"]: r["Weight"] for r in api}
changes = []
for r in api:
    r = dict(r)
    r["TTL"] = 60
    changes.append({"Action": "UPSERT", "ResourceRecordSet": r})
info = r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": changes})["ChangeInfo"]
out["change_status"] = info["Status"]
for _ in range(400):
    if r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC":
        break
    time.sleep(0.05)
out["insync"] = r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"]
try:
    r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": api[0]}]})
except ClientError as e:
    out["error"] = e.response["Error"]["Code"]
    out["error_message"] = e.response["Error"]["Message"]

rds = boto3.client("rds", region_name="us-west-2", **kw)
g = rds.describe_global_clusters(GlobalClusterIdentifier="example-global")["GlobalClusters"][0]
out["members"] = sorted((m["DBClusterArn"], m["IsWriter"]) for m in g["GlobalClusterMembers"])
out["clusters"] = [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]
sw = rds.switchover_global_cluster(GlobalClusterIdentifier="example-global",
                                   TargetDbClusterIdentifier=out["members"][1][0])
out["failover_state"] = sw["GlobalCluster"]["FailoverState"]["Status"]
try:
    rds.describe_global_clusters(GlobalClusterIdentifier="nope")
except ClientError as e:
    out["rds_error"] = e.response["Error"]["Code"]
    out["rds_status"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))
"#;

#[tokio::test]
async fn lab_serves_boto3_as_a_non_rust_client() {
    let lab = start("example.toml", options(100.0, &[])).await;
    let endpoint = lab.aws_endpoint();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", BOTO3_SCRIPT])
            .env("LAB_ENDPOINT", endpoint)
            .env("LAB_KEY", LAB_ACCESS_KEY_ID)
            .env("LAB_SECRET", LAB_SECRET_ACCESS_KEY)
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdin(Stdio::null())
            .output()
            .expect("python3 runs (boto3 is installed with moto; see .ci/run)")
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "boto3 script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON from the script");
    assert_eq!(out["zone"], "example.com.");
    assert_eq!(
        out["weights"],
        serde_json::json!({"us-east-1": 100, "us-west-2": 0})
    );
    assert_eq!(out["change_status"], "PENDING");
    assert_eq!(out["insync"], "INSYNC");
    assert_eq!(out["error"], "InvalidChangeBatch");
    assert!(
        out["error_message"]
            .as_str()
            .unwrap()
            .contains("but it already exists")
    );
    assert_eq!(
        out["members"],
        serde_json::json!([[PRIMARY_ARN, true], [SECONDARY_ARN, false]])
    );
    assert_eq!(out["clusters"], serde_json::json!(["example-usw2"]));
    assert_eq!(out["failover_state"], "pending");
    assert_eq!(out["rds_error"], "GlobalClusterNotFoundFault");
    assert_eq!(out["rds_status"], 404);
    lab.shutdown().await;
}

// ---- The drill's own AWS implementation, unmodified, against the lab ----

#[tokio::test]
async fn lab_serves_the_drills_aws_implementation() {
    use failover_drill::cloud::aws::{AwsOptions, connect};
    use failover_drill::cloud::{
        ChangeAction as Action, HealthCheckSettings, RecordChange, RecordKey, ZoneRef,
    };

    let lab = start("failover-records.toml", options(100.0, &[])).await;
    let cloud = connect(AwsOptions {
        profile: None,
        endpoint_url: Some(lab.aws_endpoint()),
        static_credentials: Some((
            LAB_ACCESS_KEY_ID.to_string(),
            LAB_SECRET_ACCESS_KEY.to_string(),
        )),
        regions: vec!["eu-west-1".into(), "eu-central-1".into()],
        clock: lab.clock().clone(),
    })
    .await
    .expect("connect");

    let zone = cloud
        .route53
        .find_zone(&ZoneRef::Id(STOREFRONT_ZONE.into()))
        .await
        .expect("find_zone");
    assert_eq!(zone.name, "storefront.example.");
    let key = RecordKey {
        zone_id: zone.id.clone(),
        name: "www.storefront.example.".into(),
        rtype: "A".into(),
        set_identifier: Some("www-secondary".into()),
    };
    let mut record = cloud
        .route53
        .get_record(&key)
        .await
        .expect("get_record")
        .expect("seeded");
    assert_eq!(record.failover.as_deref(), Some("SECONDARY"));
    record.ttl = Some(30);
    let infos = cloud
        .route53
        .change_records(
            &zone.id,
            &[RecordChange {
                action: Action::Upsert,
                record,
            }],
            "lab test",
        )
        .await
        .expect("change_records");
    eventually("INSYNC", Duration::from_secs(10), || async {
        let info = cloud
            .route53
            .get_change(&infos[0].id)
            .await
            .expect("get_change");
        (info.status == failover_drill::cloud::ChangeStatus::Insync).then_some(())
    })
    .await;

    let hc = cloud
        .route53
        .get_health_check(STOREFRONT_HC)
        .await
        .expect("get_health_check");
    let inverted = HealthCheckSettings {
        inverted: true,
        disabled: false,
    };
    let hc = cloud
        .route53
        .update_health_check(STOREFRONT_HC, hc.version, inverted)
        .await
        .expect("update_health_check");
    assert!(hc.inverted);
    eventually("unhealthy", Duration::from_secs(10), || async {
        let status = cloud
            .route53
            .get_health_check_status(STOREFRONT_HC)
            .await
            .expect("status");
        (!status.is_healthy()).then_some(())
    })
    .await;

    let global = cloud
        .rds
        .describe_global_cluster("eu-central-1", "storefront-global")
        .await
        .expect("describe_global_cluster");
    assert_eq!(global.members.len(), 2);
    assert_eq!(
        global.writer().map(|w| w.region.as_str()),
        Some("eu-west-1")
    );
    let cluster = cloud
        .rds
        .describe_cluster("eu-central-1", STOREFRONT_SECONDARY)
        .await
        .expect("describe_cluster");
    assert_eq!(cluster.region, "eu-central-1");
    cloud
        .rds
        .failover("eu-central-1", "storefront-global", STOREFRONT_SECONDARY)
        .await
        .expect("failover");
    eventually("the failover", Duration::from_secs(10), || async {
        let g = cloud
            .rds
            .describe_global_cluster("eu-central-1", "storefront-global")
            .await
            .expect("describe");
        (g.failover_state.is_none()
            && g.writer().map(|w| w.cluster_arn.as_str()) == Some(STOREFRONT_SECONDARY))
        .then_some(())
    })
    .await;
    lab.shutdown().await;
}
