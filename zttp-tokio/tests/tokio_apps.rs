//! zttp inside existing tokio applications: an axum router through the tower
//! bridge, and one connection handed over with `serve_connection`.

use std::time::Duration;

use axum::routing::{get, post};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use zttp_service::TowerHandler;
use zttp_tokio::{Json, Server, Shutdown};

async fn client_get(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &'static str,
) -> (u16, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "t")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn axum_router_is_served_unchanged_through_the_tower_bridge() {
    let router =
        axum::Router::new()
            .route("/", get(|| async { "axum says hi" }))
            .route(
                "/users/{id}",
                get(
                    |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                        format!("user {id}")
                    },
                ),
            )
            .route(
                "/echo",
                post(|body: String| async move { body.to_uppercase() }),
            );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(
        Server::new(listener)
            .shutdown(shutdown.clone())
            .serve(TowerHandler(router)),
    );

    assert_eq!(
        client_get(addr, "GET", "/", "").await,
        (200, Bytes::from("axum says hi"))
    );
    assert_eq!(
        client_get(addr, "GET", "/users/7", "").await,
        (200, Bytes::from("user 7"))
    );
    assert_eq!(
        client_get(addr, "POST", "/echo", "shout").await,
        (200, Bytes::from("SHOUT"))
    );
    assert_eq!(client_get(addr, "GET", "/missing", "").await.0, 404);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn one_connection_of_an_existing_app_is_served_with_serve_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        zttp_tokio::serve_connection(stream, |req: zttp_tokio::Request| async move {
            format!("served {}", req.uri().path())
        })
        .await
    });
    assert_eq!(
        client_get(addr, "GET", "/mine", "").await,
        (200, Bytes::from("served /mine"))
    );
    tokio::time::timeout(Duration::from_secs(10), app)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

async fn post_with_type(
    addr: std::net::SocketAddr,
    content_type: &str,
    body: &'static str,
) -> (u16, Option<String>, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post("/order")
        .header("host", "t")
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        ct,
        resp.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn json_service_with_an_unannotated_handler() {
    #[derive(serde::Deserialize)]
    struct Order {
        item: String,
        count: u32,
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(Server::new(listener).shutdown(shutdown.clone()).serve(
        zttp_tokio::handler_fn(|req| async move {
            let Json(order): Json<Order> = Json::from_request(req).await?;
            Ok::<_, zttp_tokio::JsonError>((
                http::StatusCode::CREATED,
                [("x-item", order.item.clone())],
                Json(serde_json::json!({ "item": order.item, "total": order.count * 3 })),
            ))
        }),
    ));

    let (status, ct, body) =
        post_with_type(addr, "application/json", r#"{"item":"pen","count":2}"#).await;
    assert_eq!(status, 201);
    assert_eq!(ct.as_deref(), Some("application/json"));
    assert_eq!(body, Bytes::from(r#"{"item":"pen","total":6}"#));
    let (status, _, body) = post_with_type(addr, "text/plain", r#"{"item":"pen","count":2}"#).await;
    assert_eq!(status, 415);
    assert_eq!(body, Bytes::from("expected Content-Type: application/json"));
    let (status, _, _) = post_with_type(addr, "application/json", r#"{"item":"pen""#).await;
    assert_eq!(status, 400);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
