package dev.litetf.bench;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * Checks a document against lite_tf/deploy/benchmark/schema.json, the schema Python validates phone
 * results with (jsonschema). Only the keywords that schema uses are implemented; any other keyword
 * fails the check, so the schema cannot grow a rule this test silently ignores.
 */
final class JsonSchema {
    private static final Set<String> IGNORED =
            new HashSet<>(Arrays.asList("$schema", "title", "description", "$defs"));
    private final JSONObject root;

    JsonSchema(JSONObject root) {
        this.root = root;
    }

    /** Null when {@code value} is valid, else the first violation with its path. */
    String check(Object value) throws JSONException {
        return check(root, value, "$");
    }

    private String check(JSONObject schema, Object value, String path) throws JSONException {
        for (Iterator<String> keys = schema.keys(); keys.hasNext(); ) {
            String keyword = keys.next();
            String problem = keyword(schema, keyword, value, path);
            if (problem != null) {
                return problem;
            }
        }
        return null;
    }

    private String keyword(JSONObject schema, String keyword, Object value, String path) throws JSONException {
        switch (keyword) {
            case "$ref": {
                String ref = schema.getString("$ref");
                if (!ref.startsWith("#/$defs/")) {
                    throw new IllegalStateException("unsupported $ref " + ref);
                }
                return check(root.getJSONObject("$defs").getJSONObject(ref.substring(8)), value, path);
            }
            case "type": {
                Object types = schema.get("type");
                List<Object> allowed = types instanceof JSONArray ? list((JSONArray) types) : Arrays.asList(types);
                for (Object type : allowed) {
                    if (isType(value, (String) type)) {
                        return null;
                    }
                }
                return path + ": " + value + " is not of type " + types;
            }
            case "const":
                return equal(schema.get("const"), value) ? null : path + ": expected " + schema.get("const");
            case "enum":
                for (Object option : list(schema.getJSONArray("enum"))) {
                    if (equal(option, value)) {
                        return null;
                    }
                }
                return path + ": " + value + " is not one of " + schema.getJSONArray("enum");
            case "minimum":
                return !(value instanceof Number) || ((Number) value).doubleValue() >= schema.getDouble("minimum")
                        ? null : path + ": " + value + " is below " + schema.get("minimum");
            case "maximum":
                return !(value instanceof Number) || ((Number) value).doubleValue() <= schema.getDouble("maximum")
                        ? null : path + ": " + value + " is above " + schema.get("maximum");
            case "required":
                if (value instanceof JSONObject) {
                    for (Object key : list(schema.getJSONArray("required"))) {
                        if (!((JSONObject) value).has((String) key)) {
                            return path + ": missing '" + key + "'";
                        }
                    }
                }
                return null;
            case "properties":
                if (value instanceof JSONObject) {
                    JSONObject properties = schema.getJSONObject("properties");
                    for (Iterator<String> keys = ((JSONObject) value).keys(); keys.hasNext(); ) {
                        String key = keys.next();
                        if (properties.has(key)) {
                            String problem = check(properties.getJSONObject(key), ((JSONObject) value).get(key),
                                    path + "." + key);
                            if (problem != null) {
                                return problem;
                            }
                        }
                    }
                }
                return null;
            case "additionalProperties":
                if (schema.getBoolean("additionalProperties") || !(value instanceof JSONObject)) {
                    return null;
                }
                for (Iterator<String> keys = ((JSONObject) value).keys(); keys.hasNext(); ) {
                    String key = keys.next();
                    if (!schema.optJSONObject("properties").has(key)) {
                        return path + ": unexpected '" + key + "'";
                    }
                }
                return null;
            case "items":
                if (value instanceof JSONArray) {
                    JSONArray array = (JSONArray) value;
                    for (int i = 0; i < array.length(); i++) {
                        String problem = check(schema.getJSONObject("items"), array.get(i), path + "[" + i + "]");
                        if (problem != null) {
                            return problem;
                        }
                    }
                }
                return null;
            default:
                if (IGNORED.contains(keyword)) {
                    return null;
                }
                throw new IllegalStateException("schema keyword '" + keyword + "' is not implemented here");
        }
    }

    private static boolean isType(Object value, String type) {
        switch (type) {
            case "object": return value instanceof JSONObject;
            case "array": return value instanceof JSONArray;
            case "string": return value instanceof String;
            case "boolean": return value instanceof Boolean;
            case "null": return value == JSONObject.NULL;
            case "number": return value instanceof Number;
            case "integer":
                return value instanceof Integer || value instanceof Long
                        || value instanceof Number && ((Number) value).doubleValue() == Math.rint(((Number) value).doubleValue());
            default: throw new IllegalStateException("unknown type " + type);
        }
    }

    private static boolean equal(Object a, Object b) {
        if (a instanceof Number && b instanceof Number) {
            return ((Number) a).doubleValue() == ((Number) b).doubleValue();
        }
        return a.equals(b);
    }

    private static List<Object> list(JSONArray array) throws JSONException {
        Object[] items = new Object[array.length()];
        for (int i = 0; i < items.length; i++) {
            items[i] = array.get(i);
        }
        return Arrays.asList(items);
    }
}
