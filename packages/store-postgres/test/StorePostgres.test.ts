import * as LogStreamContract from "@tracklog/core/testing/LogStreamContract"
import * as OperationsContract from "@tracklog/core/testing/OperationsContract"
import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as WebhookContract from "@tracklog/core/testing/WebhookContract"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"

for (const backend of TestDatabase.backends) {
  StoreContract.run(backend.name, TestDatabase.layer(backend.database))
  LogStreamContract.run(backend.name, TestDatabase.layer(backend.database))
  OperationsContract.run(backend.name, () => TestDatabase.layer(backend.database))
  WebhookContract.run(backend.name, TestDatabase.layer(backend.database))
}
