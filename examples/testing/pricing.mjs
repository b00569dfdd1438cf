// The code under test: one function is cheap, the other does a quadratic amount of work on
// the main thread, the kind of regression a "never blocks" test should catch.
export function priceBasket(items) {
  return items.reduce((total, item) => total + item.price * item.quantity, 0);
}

export function findDuplicateSkus(items) {
  const duplicates = [];
  for (let i = 0; i < items.length; i += 1) {
    for (let j = i + 1; j < items.length; j += 1) {
      if (items[i].sku === items[j].sku) duplicates.push(items[i].sku);
    }
  }
  return duplicates;
}
