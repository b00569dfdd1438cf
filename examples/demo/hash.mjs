// A password hash done the slow way: pure JavaScript on whatever thread calls it. It stands
// in for any CPU-heavy synchronous function (templating, parsing, image maths).
export function hashPassword(password) {
  let state = 0x811c9dc5;
  for (let round = 0; round < 2_000_000; round += 1) {
    for (let i = 0; i < password.length; i += 1) {
      state ^= password.charCodeAt(i) + round;
      state = Math.imul(state, 0x01000193) >>> 0;
    }
  }
  return state.toString(16).padStart(8, '0');
}
