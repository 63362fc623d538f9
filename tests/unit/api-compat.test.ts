import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { breakingChanges } from "../../support/api-compat.js";

const current = () => parse(readFileSync("openapi.yaml", "utf8"));
type Doc = ReturnType<typeof current>;
const changed = (edit: (doc: Doc) => void) => {
  const doc = current();
  edit(doc);
  return breakingChanges(current(), doc).map((f) => `${f.where}: ${f.change}`);
};

describe("breaking changes the gate's own checks find", () => {
  it("none between the spec and itself, nor the released contract", () => {
    expect(breakingChanges(current(), current())).toEqual([]);
    expect(breakingChanges(parse(readFileSync("openapi.released.yaml", "utf8")), current())).toEqual([]);
  });

  it("narrowed inputs: bounds, patterns, multipleOf, enums, required fields, rules between fields", () => {
    const found = changed((doc) => {
      doc.components.schemas.Password.minLength = 10;
      doc.components.schemas.UserName.maxLength = 50;
      doc.components.schemas.Credentials.properties.name.pattern = "^[a-z]+$";
      doc.components.schemas.PriceInput.anyOf[1].multipleOf = 0.01;
      doc.components.schemas.OrderLineInput.properties.quantity.maximum = 100;
      doc.components.schemas.UserUpdate.required = ["name"];
      doc.components.schemas.ProductUpdate.not = { required: ["name", "price"] };
      doc.paths["/api/product/"].get.parameters[3].schema.enum = ["id", "-id"];
    });
    expect(found).toEqual(
      expect.arrayContaining([
        "POST /api/register/ body.password: minLength 8 → 10",
        "POST /api/register/ body.name: maxLength 100 → 50",
        'POST /api/token/ body.name: pattern "^[^\\\\p{Cc}\\\\p{Cs}]*$" → "^[a-z]+$"',
        "POST /api/product/ body.price: multipleOf 0.001 → 0.01",
        "POST /api/order/ body.products[].quantity: maximum 10000 → 100",
        "PUT /api/user/{id} body: now requires name",
        'PUT /api/product/{id} body: new rule not: {"required":["name","price"]}',
        "GET /api/product/ query ordering: enum no longer takes name, -name, price, -price, created_at, -created_at",
      ]),
    );
  });

  it("answers clients may not expect: enum growth, a field no longer sent, another link format, an operation gone", () => {
    const found = changed((doc) => {
      doc.components.schemas.OrderStatus.enum.push("shipped");
      doc.components.schemas.Order.required = doc.components.schemas.Order.required.filter((name: string) => name !== "cancelled_at");
      doc.components.schemas.PageLinks.properties.next.format = "uri";
      delete doc.paths["/api/order/{id}/cancel"];
    });
    expect(found).toEqual(
      expect.arrayContaining([
        "GET /api/order/{id} 200.status: enum grew: shipped",
        "GET /api/order/{id} 200: no longer always sends cancelled_at",
        "GET /api/product/ 200.next: format uri-reference → uri",
        "POST /api/order/{id}/cancel: operation removed",
      ]),
    );
  });

  it("leaves widened inputs and new optional fields alone", () => {
    const found = changed((doc) => {
      doc.components.schemas.Password.maxLength = 256;
      doc.components.schemas.OrderLineInput.properties.quantity.maximum = 100000;
      doc.components.schemas.ProductInput.properties.colour = { type: "string" };
      doc.components.schemas.Product.properties.colour = { type: "string" };
      doc.paths["/api/product/"].get.parameters.push({ name: "colour", in: "query", schema: { type: "string" } });
    });
    expect(found).toEqual([]);
  });
});

describe("the gate (scripts/api-compat.ts)", () => {
  const gate = (edit: (doc: Doc) => void) => {
    const dir = mkdtempSync(join(tmpdir(), "api-compat-"));
    const doc = current();
    edit(doc);
    writeFileSync(join(dir, "openapi.yaml"), stringify(doc));
    return spawnSync("npx", ["tsx", "scripts/api-compat.ts", "openapi.released.yaml", join(dir, "openapi.yaml")], { encoding: "utf8" });
  };

  it("fails a breaking change under the same major version, and passes it with the major bumped", () => {
    // Under the released contract's own version, whatever openapi.yaml's is now.
    const releasedVersion: string = parse(readFileSync("openapi.released.yaml", "utf8")).info.version;
    const narrowed = gate((doc) => {
      doc.components.schemas.Password.maxLength = 64;
      doc.info.version = releasedVersion;
    });
    expect(narrowed.status).toBe(1);
    expect(narrowed.stdout).toContain("POST /api/register/ body.password: maxLength 128 → 64");
    expect(narrowed.stdout).toContain(
      `FAIL: breaking changes need a new major version: info.version is ${releasedVersion}, the released contract ${releasedVersion}`,
    );
    const bumped = gate((doc) => {
      doc.components.schemas.Password.maxLength = 64;
      doc.info.version = "99.0.0";
    });
    expect(bumped.stdout).toContain('FAIL: CHANGELOG.md has no "## 99.0.0" entry');
    expect(bumped.stdout).not.toContain("need a new major version");
  }, 120_000);
});
