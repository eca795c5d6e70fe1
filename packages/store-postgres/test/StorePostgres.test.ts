import * as StoreContract from "@tracklog/core/testing/StoreContract"
import * as TestDatabase from "./TestDatabase.js"

StoreContract.run(`postgres (${new URL(TestDatabase.adminUrl).host})`, TestDatabase.layer())
