"""Application Load Balancers read from the template: listeners with their rules in
priority order, target groups naming the template's functions (with the qualifier their
ARN gives), ALB's own refusals at their lines, and what canaria does not run as warnings."""

from __future__ import annotations

from pathlib import Path

from canaria.models.load_balancers import ConditionSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

BALANCED = (
    function("Fn", "AutoPublishAlias: live\n")
    + function("Other")
    + """\
  LB:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Subnets: [subnet-1, subnet-2]}
  TG:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      TargetType: lambda
      Targets: [{Id: !GetAtt Fn.Arn}]
  OtherTG:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      TargetType: lambda
      Targets: [{Id: !Ref Other}]
      TargetGroupAttributes: [{Key: lambda.multi_value_headers.enabled, Value: "true"}]
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LB
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: fixed-response
          FixedResponseConfig: {StatusCode: "404", ContentType: text/plain, MessageBody: none}
  Late:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Http
      Priority: 20
      Conditions: [{Field: path-pattern, Values: ["/*"]}]
      Actions:
        - Type: forward
          ForwardConfig:
            TargetGroups:
              - {TargetGroupArn: !Ref TG, Weight: 90}
              - {TargetGroupArn: !GetAtt OtherTG.TargetGroupArn, Weight: 10}
  Early:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !GetAtt Http.ListenerArn
      Priority: 5
      Conditions:
        - {Field: host-header, HostHeaderConfig: {Values: ["*.example.com"]}}
        - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: X-Env, Values: [canary]}}
        - {Field: query-string, QueryStringConfig: {Values: [{Key: v, Value: "2"}, {Value: x}]}}
      Actions: [{Type: forward, TargetGroupArn: !Ref OtherTG}]
"""
)
OUTPUTS = """\
Outputs:
  Dns: {Value: !GetAtt LB.DNSName}
  Arn: {Value: !Ref LB}
"""


def test_a_listener_holds_its_rules_by_priority_and_its_target_groups_functions(
    tmp_path: Path,
) -> None:
    app = load(write(tmp_path, resources(BALANCED) + OUTPUTS))
    listener = app.listeners["Http"]
    assert (listener.load_balancer, listener.port, listener.protocol) == ("LB", 80, "HTTP")
    assert [r.logical_id for r in listener.rules] == ["Early", "Late"]
    early, late = listener.rules
    assert early.conditions == (
        ConditionSpec("host-header", ("*.example.com",)),
        ConditionSpec("http-header", ("canary",), header="X-Env"),
        ConditionSpec("query-string", pairs=(("v", "2"), (None, "x"))),
    )
    (forward,) = late.actions
    (tg, weight), (other, other_weight) = forward.targets
    assert (tg.function, tg.qualifier, weight, tg.multi_value_headers) == ("Fn", None, 90, False)
    assert (other.function, other_weight, other.multi_value_headers) == ("Other", 10, True)
    assert tg.arn.startswith("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/")
    (default,) = listener.default_actions
    assert (default.kind, default.status, default.body) == ("fixed-response", 404, "none")
    assert not app.skipped


def test_a_target_of_an_alias_arn_keeps_its_qualifier(tmp_path: Path) -> None:
    body = resources(BALANCED.replace("Id: !GetAtt Fn.Arn", "Id: !Ref Fn.Alias"))
    (tg, _), _ = load(write(tmp_path, body)).listeners["Http"].rules[1].actions[0].targets
    assert (tg.function, tg.qualifier) == ("Fn", "live")


def test_what_alb_refuses_is_refused_at_its_line(tmp_path: Path) -> None:
    cases = [
        ("Priority: 5", "Priority: 20", "priority 20 is Late's too"),
        ('StatusCode: "404"', 'StatusCode: "302"', "not a status ALB answers with"),
        ("Targets: [{Id: !GetAtt Fn.Arn}]", "Targets: [{Id: a}, {Id: b}]", "one target, not 2"),
        ("Field: path-pattern", "Field: path", "unknown condition field 'path'"),
        ("{Field: http-header, HttpHeaderConfig: {", "{Field: http-header, Config: {", "unknown"),
        ("Weight: 90", "Weight: 1000", "out of range"),
        ("Protocol: HTTP\n", "Protocol: TCP\n", "HTTP or HTTPS, not TCP"),
    ]
    for old, new, message in cases:
        assert old in BALANCED, old
        path = write(tmp_path, resources(BALANCED.replace(old, new, 1)))
        error = fails(path)
        assert message in str(error), (new, str(error))
        assert error.line == line_of(path, new.split("\n")[0]) or "priority" in message, (
            new,
            error.line,
        )


def test_actions_in_their_order_end_with_the_one_that_answers(tmp_path: Path) -> None:
    body = BALANCED.replace(
        "      Actions: [{Type: forward, TargetGroupArn: !Ref OtherTG}]",
        "      Actions:\n"
        "        - {Type: forward, TargetGroupArn: !Ref OtherTG, Order: 1}\n"
        "        - {Type: redirect, Order: 2, RedirectConfig: {StatusCode: HTTP_301}}",
    )
    error = fails(write(tmp_path, resources(body)))
    assert "never runs" in str(error)


def test_what_canaria_does_not_run_is_a_warning(tmp_path: Path) -> None:
    body = BALANCED.replace(
        "Targets: [{Id: !Ref Other}]", "Targets: [{Id: arn:aws:lambda:us-east-1:1:function:x}]"
    ).replace(
        "TargetGroupArn: !Ref OtherTG}]",
        "TargetGroupArn: arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/elsewhere/1}]",
    ) + (
        """\
  Instances:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {TargetType: ip, Port: 80, Protocol: HTTP, VpcId: vpc-1}
  Nlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: network, Subnets: [subnet-1]}
  Tcp:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 443
      Protocol: TCP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Instances}]
  Secure:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LB
      Port: 443
      Protocol: HTTPS
      DefaultActions:
        - Type: authenticate-cognito
          Order: 1
          AuthenticateCognitoConfig: {UserPoolArn: a, UserPoolClientId: b, UserPoolDomain: c}
        - {Type: forward, TargetGroupArn: !Ref TG, Order: 2}
"""
    )
    app = load(write(tmp_path, resources(body)))
    warnings = "\n".join(app.warnings)
    assert "not a function of this template" in warnings
    assert "TargetType ip" in warnings
    assert "Nlb is a network load balancer" in warnings
    assert "canaria does not run authenticate-cognito" in warnings
    assert "Actions[0].TargetGroupArn: arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/" in (
        warnings
    )
    assert set(app.listeners) == {"Http", "Secure"}
    assert app.listeners["Secure"].protocol == "HTTPS"
    assert [a.kind for a in app.listeners["Secure"].default_actions] == [
        "authenticate",
        "forward",
    ]
    assert app.listeners["Http"].rules[1].actions[0].targets[1][0].function is None
