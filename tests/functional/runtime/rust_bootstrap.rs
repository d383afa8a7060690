// A custom runtime in Rust with the standard library only: the Runtime API over a TcpStream.
use std::io::{Read, Write};
use std::net::TcpStream;

fn call(api: &str, method: &str, path: &str, body: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(api).expect("connect");
    let head = format!(
        "{method} /2018-06-01/runtime/{path} HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let end = loop {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let text = String::from_utf8_lossy(&buf[..end]).to_string();
    let headers: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut rest = buf[end + 4..].to_vec();
    while rest.len() < length {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed");
        rest.extend_from_slice(&chunk[..n]);
    }
    (headers, rest)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
    println!("rust runtime up, handler {}", std::env::var("_HANDLER").unwrap_or_default());
    loop {
        let (headers, event) = call(&api, "GET", "invocation/next", b"");
        let id = header(&headers, "lambda-runtime-aws-request-id").to_string();
        let context = header(&headers, "lambda-runtime-client-context");
        let context = if context.is_empty() { "null" } else { context };
        let out = format!(
            "{{\"event\":{},\"requestId\":\"{}\",\"clientContext\":{}}}",
            String::from_utf8_lossy(&event),
            id,
            context
        );
        call(&api, "POST", &format!("invocation/{id}/response"), out.as_bytes());
    }
}
