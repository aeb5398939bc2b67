// Preloaded with `node --import` into a CLI process: its clock reads 2099-01-01, as on a machine that has run
// for decades, so `expire` sees every recording as past its retention without a future --now (which it refuses).
const shift = Date.UTC(2099, 0, 1) - Date.now();
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + shift);
    else super(...args);
  }
  static now() {
    return RealDate.now() + shift;
  }
};
