//! The findings ledger's table as template.yaml creates it (key `finding_id`, on demand), on moto.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use rdsguard::aws::{FINDING_ID_KEY, OPEN_INDEX, OPEN_SCOPE_ATTRIBUTE};

use crate::MotoServer;

/// Creates the ledger table `name` in `region` as template.yaml does (with its index of the
/// findings not resolved) and returns a client for it.
pub async fn create_findings_table(moto: &MotoServer, region: &str, name: &str) -> aws_sdk_dynamodb::Client {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config(region).await);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key schema")
    };
    let open = GlobalSecondaryIndex::builder()
        .index_name(OPEN_INDEX)
        .key_schema(key(OPEN_SCOPE_ATTRIBUTE, KeyType::Hash))
        .key_schema(key("resource", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .expect("index");
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(FINDING_ID_KEY))
        .attribute_definitions(attribute(OPEN_SCOPE_ATTRIBUTE))
        .attribute_definitions(attribute("resource"))
        .key_schema(key(FINDING_ID_KEY, KeyType::Hash))
        .global_secondary_indexes(open)
        .send()
        .await
        .expect("create the findings table");
    client
}
