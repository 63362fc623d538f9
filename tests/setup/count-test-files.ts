import { countTestFile } from "../helpers/process-sharing.js";

countTestFile();
