//! The findings ledger's table as template.yaml creates it (key `finding_id`, on demand), on moto.

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use rdsguard::aws::FINDING_ID_KEY;

use crate::MotoServer;

/// Creates the ledger table `name` in `region` and returns a client for it.
pub async fn create_findings_table(moto: &MotoServer, region: &str, name: &str) -> aws_sdk_dynamodb::Client {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config(region).await);
    let key = AttributeDefinition::builder()
        .attribute_name(FINDING_ID_KEY)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition");
    let schema = KeySchemaElement::builder().attribute_name(FINDING_ID_KEY).key_type(KeyType::Hash).build();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(key)
        .key_schema(schema.expect("key schema"))
        .send()
        .await
        .expect("create the findings table");
    client
}
