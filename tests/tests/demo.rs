//! The README's first command runs this demo: it must finish by itself,
//! quickly, with the client's proxy working after both outages.

use std::time::Duration;

#[tokio::test]
async fn the_aurora_demo_survives_both_outages_within_30_seconds() {
    let result = tokio::time::timeout(Duration::from_secs(30), pb_examples::demo::run()).await;
    result.expect("finished within 30 s").expect("the demo succeeded");
}

#[tokio::test]
async fn the_log_tail_example_loses_and_repeats_nothing_across_both_cuts() {
    let result = tokio::time::timeout(Duration::from_secs(30), pb_examples::log_tail::run(1_500)).await;
    result.expect("finished within 30 s").expect("every line once, in order");
}
