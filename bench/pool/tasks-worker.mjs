// Worker file for piscina and tinypool: named exports picked with the `name` run option;
// each task receives one argument (an array of the call's arguments).
export function add([a, b]) {
  return a + b;
}

export function spin([ms]) {
  const end = performance.now() + ms;
  while (performance.now() < end);
  return ms;
}

export function byteLength([buffer]) {
  return buffer.byteLength;
}
