//! The `dice` page in a real browser: headless Chromium driven by chromedriver
//! over WebDriver (fantoccini). Needs the Debian packages `chromium` and
//! `chromium-driver` (`.ci/run` installs them); without them this test fails
//! naming the package (zttp-peers).
//!
//! With `DICE_SCREENSHOT=path.png` set, the page after a few rolls is saved
//! there (that is how `examples/dice/screenshot.png` is made).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use zttp_peers::Peer;

mod browser;
mod support;
use browser::{browser, chromedriver, installed, Process, TempDir};

fn gateway() -> (Process, SocketAddr) {
    browser::start_server(env!("CARGO_BIN_EXE_dice"), &["--addr", "127.0.0.1:0"])
}

/// Types `roll` into `#roll` and clicks `#go`.
async fn roll(client: &Client, roll: &str) {
    let input = client.find(Locator::Id("roll")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(roll).await.unwrap();
    client
        .find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The texts of `#results li` once there are `n` of them (bounded wait).
async fn results(client: &Client, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let items = client.find_all(Locator::Css("#results li")).await.unwrap();
        if items.len() >= n {
            let mut texts = Vec::new();
            for item in items {
                texts.push(item.text().await.unwrap());
            }
            return texts;
        }
        assert!(
            Instant::now() < deadline,
            "{n} results within 20 s (have {})",
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The faces in a result's text (`[2, 6, 1] = 9`), checked against the roll.
fn faces(text: &str, dice: usize, sides: u64) -> Vec<u64> {
    let list = text
        .find('[')
        .zip(text.find(']'))
        .map(|(start, end)| &text[start..=end])
        .unwrap_or_else(|| panic!("{text:?} holds no JSON list"));
    let faces: Vec<u64> = serde_json::from_str(list).unwrap();
    assert_eq!(faces.len(), dice, "{text}");
    assert!(faces.iter().all(|f| (1..=sides).contains(f)), "{text}");
    faces
}

#[test]
#[cfg_attr(
    any(zttp_skip_peer = "chromium", zttp_skip_peer = "chromedriver"),
    ignore = "ZTTP_SKIP_PEERS opts out of chromium"
)]
fn headless_chromium_rolls_dice_in_two_tabs() {
    let chromium = installed(Peer::Chromium);
    let driver = installed(Peer::Chromedriver);
    let (_gateway, addr) = gateway();
    let (_driver, port) = chromedriver(&driver);
    let profile = TempDir::new("dice-chromium-profile");
    let url = format!("http://{addr}/");

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(90), async {
                let client = browser(port, &chromium, &profile.0).await;
                client.goto(&url).await.unwrap();

                roll(&client, "3d6").await;
                let texts = results(&client, 1).await;
                faces(&texts[0], 3, 6);

                roll(&client, "0d6").await;
                let texts = results(&client, 2).await;
                assert!(texts[1].starts_with("error"), "{texts:?}");

                // A second tab; both roll at once, each sees only its own answers.
                let first = client.window().await.unwrap();
                let second = client.new_window(true).await.unwrap().handle;
                client.switch_to_window(second.clone()).await.unwrap();
                client.goto(&url).await.unwrap();
                for _ in 0..3 {
                    roll(&client, "5d6").await;
                }
                client.switch_to_window(first.clone()).await.unwrap();
                for _ in 0..3 {
                    roll(&client, "2d6").await;
                }
                let texts = results(&client, 5).await;
                assert_eq!(texts.len(), 5, "{texts:?}");
                for text in &texts[2..] {
                    faces(text, 2, 6);
                }
                client.switch_to_window(second).await.unwrap();
                let texts = results(&client, 3).await;
                assert_eq!(texts.len(), 3, "{texts:?}");
                for text in &texts {
                    faces(text, 5, 6);
                }

                client.switch_to_window(first).await.unwrap();
                roll(&client, "4d20").await;
                results(&client, 6).await;
                if let Some(path) = std::env::var_os("DICE_SCREENSHOT") {
                    let png = client.screenshot().await.unwrap();
                    std::fs::write(path, png).unwrap();
                }
                client.close().await.unwrap();
            })
            .await
            .expect("the browser test finishes within 90 s")
        });
}
