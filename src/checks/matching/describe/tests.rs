//! Every operator in words, in both languages, as the *expected* of a diagnostic.

use serde_json::{Value, json};

use super::super::compile;
use super::*;

fn words(expectation: Value) -> Text {
    let mut errors = Vec::new();
    let node = compile(&expectation, &mut Vec::new(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    describe(&node)
}

fn assert_words(table: &[(Value, &str, &str)]) {
    for (expectation, en, zh) in table {
        let said = words(expectation.clone());
        assert_eq!(
            (said.en.as_str(), said.zh.as_str()),
            (*en, *zh),
            "{expectation}"
        );
    }
}

#[test]
fn values_and_presence() {
    assert_words(&[
        (json!("nginx"), "`\"nginx\"`", "`\"nginx\"`"),
        (json!(3), "`3`", "`3`"),
        (json!(null), "absent", "不存在"),
        (json!({"$eq": 3}), "`3`", "`3`"),
        (json!({"$eq": null}), "absent", "不存在"),
        (
            json!({"$ne": "kubelab"}),
            "anything but `\"kubelab\"`",
            "不是 `\"kubelab\"`",
        ),
        (json!({"$ne": null}), "present", "存在"),
        (json!({"$exists": true}), "present", "存在"),
        (json!({"$exists": false}), "absent", "不存在"),
        (
            json!({"$exists": true, "$ne": "kubelab"}),
            "present and anything but `\"kubelab\"`",
            "存在，且不是 `\"kubelab\"`",
        ),
    ]);
}

#[test]
fn comparisons() {
    let t = "2024-05-01T10:00:00Z";
    assert_words(&[
        (json!({"$gt": 1}), "more than 1", "大于 1"),
        (json!({"$gte": 1}), "at least 1", "至少 1"),
        (json!({"$lt": 1}), "less than 1", "小于 1"),
        (json!({"$lte": 1}), "at most 1", "不超过 1"),
        (
            json!({"$gte": 1, "$lte": 80}),
            "between 1 and 80",
            "介于 1 和 80 之间",
        ),
        (
            json!({"$gt": 1, "$lt": 80}),
            "more than 1 and less than 80",
            "大于 1，且小于 80",
        ),
        (json!({"$gte": "500m"}), "at least `500m`", "至少 `500m`"),
        (
            json!({"$lte": "128Mi"}),
            "at most `128Mi`",
            "不超过 `128Mi`",
        ),
        (
            json!({"$gt": t}),
            "after `2024-05-01T10:00:00Z`",
            "晚于 `2024-05-01T10:00:00Z`",
        ),
        (
            json!({"$gte": t}),
            "at or after `2024-05-01T10:00:00Z`",
            "不早于 `2024-05-01T10:00:00Z`",
        ),
        (
            json!({"$lt": t}),
            "before `2024-05-01T10:00:00Z`",
            "早于 `2024-05-01T10:00:00Z`",
        ),
        (
            json!({"$lte": t}),
            "at or before `2024-05-01T10:00:00Z`",
            "不晚于 `2024-05-01T10:00:00Z`",
        ),
        (
            json!({"$gte": "2024-01-01T00:00:00Z", "$lte": t}),
            "between `2024-01-01T00:00:00Z` and `2024-05-01T10:00:00Z`",
            "介于 `2024-01-01T00:00:00Z` 和 `2024-05-01T10:00:00Z` 之间",
        ),
    ]);
}

#[test]
fn text_operators() {
    assert_words(&[
        (
            json!({"$regex": "^nginx:1\\.2[0-9]$"}),
            "text matching the pattern `^nginx:1\\.2[0-9]$`",
            "匹配模式 `^nginx:1\\.2[0-9]$` 的文本",
        ),
        (
            json!({"$glob": "nginx:*"}),
            "text of the form `nginx:*` (`*` stands for any text)",
            "符合通配模式 `nginx:*` 的文本（`*` 代表任意文本）",
        ),
        (
            json!({"$glob": "nginx:1.1?.*"}),
            "text of the form `nginx:1.1?.*` (`*` stands for any text, `?` for one character)",
            "符合通配模式 `nginx:1.1?.*` 的文本（`*` 代表任意文本，`?` 代表一个字符）",
        ),
        (
            json!({"$glob": "nginx"}),
            "text of the form `nginx`",
            "符合通配模式 `nginx` 的文本",
        ),
        (
            json!({"$in": ["Pending", "Running"]}),
            "one of `\"Pending\"`, `\"Running\"`",
            "`\"Pending\"`、`\"Running\"` 之一",
        ),
        (
            json!({"$contains": "port: 8080"}),
            "text containing `\"port: 8080\"`",
            "包含 `\"port: 8080\"` 的文本",
        ),
        // A pattern holding backticks is fenced with more of them.
        (
            json!({"$regex": "`x`"}),
            "text matching the pattern `` `x` ``",
            "匹配模式 `` `x` `` 的文本",
        ),
    ]);
}

#[test]
fn lengths_and_negations() {
    assert_words(&[
        (json!({"$len": 2}), "of length 2", "长度为 2"),
        (
            json!({"$len": {"$gte": 1}}),
            "of length at least 1",
            "长度至少 1",
        ),
        (
            json!({"$len": {"$gte": 1, "$lte": 3}}),
            "of length between 1 and 3",
            "长度介于 1 和 3 之间",
        ),
        (
            json!({"$not": {"$contains": "lives=5"}}),
            "not containing `\"lives=5\"`",
            "不包含 `\"lives=5\"`",
        ),
        (
            json!({"$not": {"$regex": "^nginx"}}),
            "not matching the pattern `^nginx`",
            "不匹配模式 `^nginx`",
        ),
        (
            json!({"$not": {"$gte": 3}}),
            "not at least 3",
            "不满足：至少 3",
        ),
        (json!({"$not": {"$exists": true}}), "absent", "不存在"),
        (json!({"$not": {"$exists": false}}), "present", "存在"),
        (json!({"$not": "x"}), "anything but `\"x\"`", "不是 `\"x\"`"),
        (
            json!({"$not": {"$in": [1, 2]}}),
            "not equal to one of `1`, `2`",
            "不为 `1`、`2` 之一",
        ),
        (
            json!({"$not": {"$glob": "*:latest"}}),
            "not of the form `*:latest`",
            "不符合通配模式 `*:latest`",
        ),
        (
            json!({"$not": {"$len": 3}}),
            "not of length 3",
            "不满足：长度为 3",
        ),
        (
            json!({"$not": {"app": "nginx"}}),
            "not a map with `app` = `\"nginx\"`",
            "不满足：一个映射，其中 `app` 为 `\"nginx\"`",
        ),
        (
            json!({"$not": {"$some": {"type": "Ready", "status": "True"}}}),
            "no element with `status` = `\"True\"` and `type` = `\"Ready\"`",
            "不包含 `status` 为 `\"True\"`、`type` 为 `\"Ready\"` 的元素",
        ),
    ]);
}

#[test]
fn lists() {
    assert_words(&[
        (
            json!({"$every": {"resources": {"limits": {"memory": {"$exists": true}}}}}),
            "every element with `resources.limits.memory` present",
            "每个元素都满足：`resources.limits.memory` 存在",
        ),
        (
            json!({"$every": 1}),
            "every element equal to `1`",
            "每个元素都等于 `1`",
        ),
        (
            json!({"$every": {"$gte": 1}}),
            "every element at least 1",
            "每个元素都满足：至少 1",
        ),
        (
            json!({"$every": {"$regex": "^a"}}),
            "every element matching the pattern `^a`",
            "每个元素都匹配模式 `^a`",
        ),
        (
            json!({"$some": {"type": "Ready", "status": "True"}}),
            "an element with `status` = `\"True\"` and `type` = `\"Ready\"`",
            "包含 `status` 为 `\"True\"`、`type` 为 `\"Ready\"` 的元素",
        ),
        (
            json!({"$some": 3}),
            "an element equal to `3`",
            "包含等于 `3` 的元素",
        ),
        (
            json!({"$some": {"$regex": "^a"}}),
            "an element matching the pattern `^a`",
            "包含匹配模式 `^a` 的元素",
        ),
        (
            json!({"$none": {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}}),
            "no element with `state.waiting.reason` = `\"CrashLoopBackOff\"`",
            "不包含 `state.waiting.reason` 为 `\"CrashLoopBackOff\"` 的元素",
        ),
        (
            json!({"$exact": ["sleep", "3600"]}),
            "exactly `[\"sleep\",\"3600\"]`, in this order",
            "恰好是 `[\"sleep\",\"3600\"]`（顺序一致）",
        ),
        (
            json!({"$exact": [{"name": "a"}, "b"]}),
            "exactly 2 elements, in this order: a map with `name` = `\"a\"`; `\"b\"`",
            "恰好 2 个元素，依次为：一个映射，其中 `name` 为 `\"a\"`；`\"b\"`",
        ),
        (
            json!([{"name": "x"}, {"containerPort": 80}]),
            "a list containing an element with `name` = `\"x\"` and an element with `containerPort` = `80`",
            "包含 `name` 为 `\"x\"` 的元素，以及包含 `containerPort` 为 `80` 的元素",
        ),
        (json!([]), "a list", "一个列表"),
    ]);
}

#[test]
fn maps_read_as_their_fields() {
    assert_words(&[
        (
            json!({"first": "f"}),
            "a map with `first` = `\"f\"`",
            "一个映射，其中 `first` 为 `\"f\"`",
        ),
        (json!({}), "a map", "一个映射"),
        // The HPA lab's metric, which learners read as raw JSON before.
        (
            json!([{"resource": {"name": "cpu", "target": {"averageUtilization": {"$gte": 1, "$lte": 80}}}}]),
            "a list containing an element with `resource.name` = `\"cpu\"` and `resource.target.averageUtilization` between 1 and 80",
            "包含 `resource.name` 为 `\"cpu\"`、`resource.target.averageUtilization` 介于 1 和 80 之间的元素",
        ),
        (
            json!({"data": {"game.properties": {"$contains": "lives=3"}, "fly-name": {"$exists": true}}}),
            "a map with `data.fly-name` present and `data[\"game.properties\"]` containing `\"lives=3\"`",
            "一个映射，其中 `data.fly-name` 存在，`data[\"game.properties\"]` 包含 `\"lives=3\"`",
        ),
    ]);
}

#[test]
fn author_words_replace_the_generated_ones() {
    let words_of = json!({"en": "a sensible number of replicas", "zh": "合理的副本数"});
    assert_words(&[
        (
            json!({"$gte": 1, "$lte": 80, "$describe": words_of}),
            "a sensible number of replicas",
            "合理的副本数",
        ),
        (
            json!([{"name": "web", "$describe": {"en": "a container named web", "zh": "名为 web 的容器"}}]),
            "a list containing a container named web",
            "包含名为 web 的容器",
        ),
        (
            json!({"$some": {"name": "web", "$describe": {"en": "a container named web", "zh": "名为 web 的容器"}}}),
            "a container named web",
            "包含名为 web 的容器",
        ),
        (
            json!({"spec": {"replicas": {"$gte": 1, "$describe": words_of}}}),
            "a map with `spec.replicas`: a sensible number of replicas",
            "一个映射，其中 `spec.replicas`：合理的副本数",
        ),
        (
            json!({"$not": {"$gte": 1, "$describe": words_of}}),
            "not: a sensible number of replicas",
            "不符合：合理的副本数",
        ),
        (
            json!({"$every": {"ready": true, "$describe": {"en": "ready", "zh": "已就绪"}}}),
            "every element: ready",
            "每个元素都符合：已就绪",
        ),
        (
            json!({"$none": {"ready": false, "$describe": {"en": "a container that is not ready", "zh": "未就绪的容器"}}}),
            "no element like: a container that is not ready",
            "不包含未就绪的容器",
        ),
    ]);
}

#[test]
fn counts_and_events() {
    let node = |v: Value| compile(&v, &mut Vec::new(), &mut Vec::new());
    assert_eq!(count(&node(json!(3))), text("exactly 3", "恰好 3"));
    assert_eq!(
        count(&node(json!({"$gte": 3}))),
        text("at least 3", "至少 3")
    );
    let failing = node(json!({"reason": "FailedScheduling"}));
    assert_eq!(
        thing(&failing, ("event", "事件")),
        text(
            "an event with `reason` = `\"FailedScheduling\"`",
            "`reason` 为 `\"FailedScheduling\"` 的事件"
        )
    );
    assert_eq!(
        no_thing(&failing, ("event", "事件")),
        text(
            "no event with `reason` = `\"FailedScheduling\"`",
            "没有 `reason` 为 `\"FailedScheduling\"` 的事件"
        )
    );
    assert_eq!(
        count_of(&failing, ("event", "事件"), &text("at least 2", "至少 2")),
        text(
            "events with `reason` = `\"FailedScheduling\"`: at least 2",
            "`reason` 为 `\"FailedScheduling\"` 的事件数：至少 2"
        )
    );
    let any = node(json!({}));
    assert_eq!(
        thing(&any, ("event", "事件")),
        text("an event", "任意一条事件")
    );
    assert_eq!(
        no_thing(&any, ("event", "事件")),
        text("no event", "没有事件")
    );
    assert_eq!(
        count_of(&any, ("event", "事件"), &text("at least 2", "至少 2")),
        text("events: at least 2", "事件数：至少 2")
    );
}
