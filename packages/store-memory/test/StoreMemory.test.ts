import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as StoreMemory from "@tracklog/store-memory/StoreMemory"

StoreContract.run("memory", StoreMemory.layer)
