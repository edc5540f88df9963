-- wrk: durable sales into one store, as tills send them: one line of one of five
-- products, a fresh Idempotency-Key per sale. Set by scripts/perf-one-store.sh:
-- MAGASIN_TOKEN (a cashier's or the admin's token) and MAGASIN_STORE.
local token = os.getenv("MAGASIN_TOKEN")
local store = os.getenv("MAGASIN_STORE") or "1"
local skus = { "EPI-0001", "EPI-0002", "EPI-0004", "EPI-0005", "EPI-0006" }
local counter = 0
local thread_id = 0

function setup(thread)
    thread_id = thread_id + 1
    thread:set("prefix", "wrk-" .. thread_id .. "-" .. os.time())
end

function request()
    counter = counter + 1
    local sku = skus[(counter % #skus) + 1]
    local body = '{"lines":[{"sku":"' .. sku .. '","quantity":1}]}'
    local headers = {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = prefix .. "-" .. counter,
    }
    return wrk.format("POST", "/api/v1/stores/" .. store .. "/sales", headers, body)
end

local failed = 0
function response(status, headers, body)
    if status ~= 201 then
        failed = failed + 1
        if failed <= 3 then
            io.stderr:write("status " .. status .. ": " .. body .. "\n")
        end
    end
end

function done(summary, latency, requests)
    io.write(string.format("non-201 answers: %d\n", summary.errors.status))
end
