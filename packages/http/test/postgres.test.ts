import * as TestDatabase from "@tracklog/store-postgres/testing/TestDatabase"
import { conformance } from "./conformance.js"

conformance(`postgres (${new URL(TestDatabase.adminUrl).host})`, () => TestDatabase.layer())
