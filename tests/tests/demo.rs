//! The README's first command runs this demo: it must finish by itself,
//! quickly, with the client's proxy working after both outages.

use std::time::Duration;

#[tokio::test]
async fn the_aurora_demo_survives_both_outages_within_30_seconds() {
    let result = tokio::time::timeout(Duration::from_secs(30), pb_examples::demo::run()).await;
    result.expect("finished within 30 s").expect("the demo succeeded");
}
