// The only side-effecting entry: node --import loopguard/register / node -r loopguard/register.
export {};
