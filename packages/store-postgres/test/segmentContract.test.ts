import * as SegmentContract from "@tracklog/core/testing/SegmentContract"
import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"

for (const backend of TestDatabase.backends) {
  SegmentContract.run(backend.name, TestDatabase.layer(backend.database))
}
