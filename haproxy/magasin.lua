-- Which magasin instance owns a store: the same function as `src/cluster/mod.rs`, so that
-- HAProxy sends every request for a store to the instance whose actor holds it.
--
-- Rendezvous hashing: every instance scores the key, the highest score owns it.
--   score(instance, key) = mix64(fnv1a64(instance .. "\0" .. key))
--   mix64 = the SplitMix64 finalizer; scores compare as unsigned 64-bit integers;
--   a tie goes to the instance whose name sorts first.
-- The key of a store is "store/<id>" with the id in decimal, no leading zeros.
--
-- Lua 5.3 integers are 64-bit and wrap around on overflow, as the Rust code's
-- wrapping_mul does; `>>` is a logical shift, as on Rust's u64.
--
-- The instances come from the MAGASIN_INSTANCES environment variable (comma-separated
-- names, the `[cluster] instances` names of the configuration); each has a backend of
-- the same name in haproxy.cfg.

local FNV_OFFSET = 0xcbf29ce484222325
local FNV_PRIME = 0x100000001b3

local function fnv1a64(text)
  local hash = FNV_OFFSET
  for i = 1, #text do
    hash = (hash ~ text:byte(i)) * FNV_PRIME
  end
  return hash
end

local function mix64(x)
  x = (x ~ (x >> 30)) * 0xbf58476d1ce4e5b9
  x = (x ~ (x >> 27)) * 0x94d049bb133111eb
  return x ~ (x >> 31)
end

local function score(instance, key)
  return mix64(fnv1a64(instance .. "\0" .. key))
end

local instances = {}
for name in string.gmatch(os.getenv("MAGASIN_INSTANCES") or "", "[^,%s]+") do
  instances[#instances + 1] = name
end

-- Owners already computed, by key: the instance list does not change while HAProxy runs,
-- so each store is hashed once (a table lookup afterwards). Bounded: past KNOWN_MAX
-- stores (ids a client makes up, say), owners are computed each time.
local KNOWN_MAX = 100000
local known, known_count = {}, 0

local function compute_owner(key)
  local best, best_score = nil, nil
  for _, name in ipairs(instances) do
    local s = score(name, key)
    if best == nil or math.ult(best_score, s) or (s == best_score and name < best) then
      best, best_score = name, s
    end
  end
  return best
end

local function owner(key)
  local found = known[key]
  if found == nil then
    found = compute_owner(key) or ""
    if known_count < KNOWN_MAX then
      known[key] = found
      known_count = known_count + 1
    end
  end
  return found
end

-- The owner of the store a path names (`/api/v1/stores/<id>...`, or a restock request
-- `/api/v1/logistics/restock-requests/<id>-<n>...`, held by its store), or "" for any
-- other path, which then goes to any instance.
core.register_fetches("magasin_owner", function(txn)
  local path = txn.sf:path()
  local digits = string.match(path, "^/api/v1/stores/(%d+)")
  if digits == nil then
    digits = string.match(path, "^/api/v1/logistics/restock%-requests/(%d+)%-")
  end
  if digits == nil or #digits > 10 then
    return ""
  end
  local id = math.tointeger(tonumber(digits))
  if id == nil or id < 1 or id > 4294967295 then
    return ""
  end
  return owner("store/" .. string.format("%d", id))
end)
