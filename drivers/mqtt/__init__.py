"""Fleet mode over MQTT: many packs through a broker, findings published back (Home Assistant discovery).

    url        mqtt://[user[:password]@]HOST[:PORT] / mqtts://... -> Broker (credentials from env or a file)
    config     the fleet YAML: per-pack shape, topic, settings and context, timings
    shapes     topic + payload -> per-pack reading fields (bmsdoc JSON, batmon-ha, ESPHome, dbus-serialbattery)
    packs      per-pack live state: assembly of split topics, debounce, rate limit, staleness, duplicates
    shard      which live worker owns which pack (rendezvous hashing over the workers that announced themselves)
    discovery  Home Assistant MQTT discovery payloads
    store      SQLite: one session per pack in the recordings database (`bmsdoc history` lists them)
    service    the headless worker (paho-mqtt network thread + one processing thread; no Textual)
    publisher  `bmsdoc watch --mqtt`: readings out to bmsdoc/{pack}/reading
    status     `bmsdoc fleet --status`: the packs as the broker's retained messages or the store say

Client library: paho-mqtt 2.2.0 (Eclipse, the reference Python client): MQTT 5 (shared subscriptions, session
expiry), last will, TLS, automatic reconnect with backoff and a client-side queue for QoS 1 while disconnected, all
in one dependency-free package. aiomqtt 2.5.1 wraps paho itself and would tie the service to asyncio for no gain.
"""
