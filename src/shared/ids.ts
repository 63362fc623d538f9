/**
 * The largest value of PostgreSQL's `integer` (int4), the type of every id, version and stock
 * column; openapi.yaml states it as StockInput's maximum (SPEC_LIMITS.maxStock).
 */
export const INT4_MAX = 2_147_483_647;

/** A value a serial id (PostgreSQL's `integer`, from 1) can hold. */
export const isSerialId = (id: number) => Number.isInteger(id) && id >= 1 && id <= INT4_MAX;
