/** A value a serial id (PostgreSQL's `integer`, from 1) can hold. */
export const isSerialId = (id: number) => Number.isInteger(id) && id >= 1 && id <= 2_147_483_647;
