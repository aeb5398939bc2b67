// The interpreter itself, on small hand-written dialplans: each test pins one Asterisk behaviour it models.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { separateArgs } from './interpreter/app-args.ts';
import { evaluateExpression, ExpressionError } from './interpreter/expression.ts';
import { findExtension, findExtensionTrie, parseDialplan, DialplanSyntaxError } from './interpreter/dialplan.ts';
import { Channel, InterpreterError, Pbx, parseVariableName, substring } from './interpreter/pbx.ts';

const routine = (body: string) => new Pbx(`[sub]\n${body}\n`, { now: () => 1764100000 });

test('argument splitting: commas inside parentheses, brackets and quotes do not split (main/app.c)', () => {
  assert.equal(separateArgs('a,b(c,d),e[f,g],"h,i"', ',', true, 10), ['a', 'b(c,d)', 'e[f,g]', 'h,i']);
  assert.equal(separateArgs('a,b(c,d),e[f,g],"h,i"', ',', false, 10), ['a', 'b(c,d)', 'e[f,g]', '"h,i"']);
});

test('argument splitting: backslash takes the next character literally; removed only in standard (non-RAW) mode', () => {
  assert.equal(separateArgs('a\\,b,c', ',', true, 10), ['a,b', 'c']);
  assert.equal(separateArgs('a\\,b,c', ',', false, 10), ['a\\,b', 'c']);
});

test('argument splitting: the last allowed argument keeps the unscanned rest; a trailing delimiter adds an empty one', () => {
  assert.equal(separateArgs('x,y,"z",w', ',', true, 2), ['x', 'y,"z",w']);
  assert.equal(separateArgs('a,', ',', true, 5), ['a', '']);
  assert.equal(separateArgs('', ',', true, 5), []);
});

test('expressions: quoted operands compare as strings, bare numbers numerically', () => {
  assert.is(evaluateExpression('"2o1" >= "2i1"'), '1');
  assert.is(evaluateExpression('"1o2" >= "2i1"'), '0');
  assert.is(evaluateExpression('"0o" >= "0i"'), '1');
  assert.is(evaluateExpression('10 > 9'), '1');
  assert.is(evaluateExpression('"10" > "9"'), '0');
  assert.is(evaluateExpression('2 + 2'), '4');
});

test('expressions: & yields 0 or its left operand, | its first non-empty non-zero operand; & binds tighter', () => {
  assert.is(evaluateExpression('"a" & "b"'), 'a');
  assert.is(evaluateExpression('"" & "b"'), '0');
  assert.is(evaluateExpression('0 | "x"'), 'x');
  assert.is(evaluateExpression('1 = 1 & 1 = 2 | 3 = 3'), '1');
  assert.is(evaluateExpression('"x" = "auto" | "x" = "force" | 0 > 0'), '0');
});

test('expressions: an injected quote changes the expression, which is why raw values never reach one', () => {
  // What `$["${MDC_MON_MODE}" = "force"]` would become with MDC_MON_MODE = x" | "1:
  assert.is(evaluateExpression('"x" | "1" = "force"'), 'x');
  assert.throws(() => evaluateExpression('"a" =~ "b"'), (e: unknown) => e instanceof ExpressionError);
  assert.throws(() => evaluateExpression('"unterminated'), (e: unknown) => e instanceof ExpressionError);
});

test('variable names: a colon outside parentheses starts offset:length; inside a function call it does not', () => {
  assert.equal(parseVariableName('w:0:1'), { name: 'w', offset: 0, length: 1, isFunction: false });
  assert.equal(parseVariableName('CUT(a,.,2)'), { name: 'CUT(a,.,2)', offset: 0, length: 2147483647, isFunction: true });
  // A raw ')' closes the call early: Asterisk then truncates at the ':' (numbers like "1):2" are mangled).
  assert.equal(parseVariableName('FILTER(0-9,1):2)').name, 'FILTER(0-9,1)');
  assert.is(substring('abcdef', 2, 2147483647), 'cdef');
  assert.is(substring('abcdef', -2, 2147483647), 'ef');
  assert.is(substring('abcdef', 1, -2), 'bcd');
  assert.is(substring('ab', 5, 1), '');
});

test('substitution: nested functions, offsets on a function result, values are not re-evaluated', () => {
  const pbx = routine('exten => s,1,NoOp()');
  const chan = new Channel('Local/1@x-1;1');
  chan.setVar('V', '${EVIL} $[1+1]');
  chan.setVar('N', '+49 (30) 12-3');
  assert.is(pbx.substitute(chan, '<${V}>'), '<${EVIL} $[1+1]>');
  assert.is(pbx.substitute(chan, '${FILTER(0-9*#+,${N})}'), '+4930123');
  assert.is(pbx.substitute(chan, '${FILTER(0-9,${N}):1:2}'), '93');
  assert.is(pbx.substitute(chan, '$[${LEN(${N})} + 1]'), '14');
  assert.is(pbx.substitute(chan, 'cost: $5'), 'cost: $5');
});

test('FIELDQTY and FIELDNUM read the variable by name, so its value is never parsed; FIELDNUM ignores case', () => {
  const pbx = routine('exten => s,1,NoOp()');
  const chan = new Channel('c');
  chan.setVar('M', 'x),y"|:z');
  assert.is(pbx.substitute(chan, '${FIELDQTY(M,|)}'), '2');
  assert.is(pbx.substitute(chan, '${FIELDQTY(UNSET,|)}'), '0');
  chan.setVar('M', 'FORCE');
  assert.is(pbx.substitute(chan, '${FIELDNUM(M,|,force)}'), '1');
  assert.is(pbx.substitute(chan, '${FILTER(a-z,${M})}'), '');
});

test('IF splits at ? and :, strips blanks; REGEX takes "pattern" then the string', () => {
  const pbx = routine('exten => s,1,NoOp()');
  const chan = new Channel('c');
  assert.is(pbx.substitute(chan, '${IF($[1 = 1]? yes : no)}'), 'yes');
  assert.is(pbx.substitute(chan, '${IF(0?yes)}'), '');
  assert.is(pbx.substitute(chan, '${REGEX("^(force|deny)$" deny)}'), '1');
  assert.is(pbx.substitute(chan, '${REGEX("^(force|deny)$" denyx)}'), '0');
});

test('Gosub frames: ARGn and LOCAL are frame-local, shadowed values come back on Return, GOSUB_RETVAL is set', () => {
  const pbx = new Pbx(
    [
      '[main]',
      'exten => s,1,Set(x=outer)',
      ' same => n,Set(ARG1=caller-arg)',
      ' same => n,Gosub(sub,s,1(one,two))',
      ' same => n,NoOp(${GOSUB_RETVAL})',
      '[sub]',
      'exten => s,1,Set(LOCAL(x)=inner-${ARG2})',
      ' same => n,Set(seen=${x}/${ARG1}/${ARGC})',
      ' same => n,Return(done)',
    ].join('\n'),
  );
  const chan = new Channel('c');
  const result = pbx.run(chan, 'main', 's');
  assert.is(result.hangup, undefined);
  assert.is(result.priorities, 7);
  assert.is(chan.getVar('seen'), 'inner-two/one/2');
  assert.is(chan.getVar('x'), 'outer');
  assert.is(chan.getVar('ARG1'), 'caller-arg');
  assert.is(chan.getVar('GOSUB_RETVAL'), 'done');
});

test('nested Gosub masks the outer frame\'s extra ARGs with empty values', () => {
  const pbx = new Pbx(
    ['[a]', 'exten => s,1,Gosub(b,s,1(x))', ' same => n,Return()', '[b]', 'exten => s,1,Set(seen=[${ARG1}][${ARG2}][${ARG3}])', ' same => n,Return()'].join('\n'),
  );
  const chan = new Channel('c');
  const result = pbx.callRoutine(chan, 'a', 's', 1, ['1', '2', '3']);
  assert.is(result.hangup, undefined);
  assert.is(chan.getVar('seen'), '[x][][]');
  assert.is(chan.getVar('ARG1'), undefined);
});

test('Set takes the value verbatim; MSet splits at commas and removes quotes and backslashes', () => {
  const pbx = routine('exten => s,1,Set(a=1,2 "q")\n same => n,MSet(b="x,y",c=\\,z)\n same => n,Return()');
  const chan = new Channel('c');
  pbx.callRoutine(chan, 'sub', 's', 1, []);
  assert.is(chan.getVar('a'), '1,2 "q"');
  assert.is(chan.getVar('b'), 'x,y');
  assert.is(chan.getVar('c'), ',z');
});

test('inheritance: _X reaches a child as X (one level), __X keeps its prefix (every level), plain X stays', () => {
  const pbx = routine('exten => s,1,MSet(_ONE=1,__ALL=2,PLAIN=3)\n same => n,Return()');
  const parent = new Channel('parent');
  pbx.callRoutine(parent, 'sub', 's', 1, []);
  const child = parent.spawnChild('child');
  const grandchild = child.spawnChild('grandchild');
  assert.equal([child.getVar('ONE'), child.getVar('ALL'), child.getVar('PLAIN')], ['1', '2', undefined]);
  assert.equal([grandchild.getVar('ONE'), grandchild.getVar('ALL')], [undefined, '2']);
  assert.is(grandchild.vars[0]!.name, '__ALL');
});

test('extension matching: a literal beats a pattern; _[p]! matches p alone and anything after it; - is ignored', () => {
  const pbx = new Pbx(['[t]', 'exten => _[p]!,1,Return(catch-all)', 'exten => p201,1,Return(literal)', 'exten => _pX.,1,Return(digits)'].join('\n'));
  const chan = new Channel('c');
  const lookup = (n: string) => pbx.substitute(chan, `\${EVAL_EXTEN(t,${n},1)}`);
  assert.is(lookup('p201'), 'literal');
  assert.is(lookup('p2-01'), 'literal');
  assert.is(lookup('p202'), 'digits');
  assert.is(lookup('p'), 'catch-all');
  assert.is(lookup('p+49#'), 'catch-all');
  assert.is(lookup('q1'), '');
  assert.equal(chan.effects, [{ kind: 'LookupFailed', what: 'EVAL_EXTEN(t,q1,1)' }]);
});

test('trie matcher (extenpatternmatchnew): most specific first per character, so _20X beats _2XX and a literal beats [p]', () => {
  const ctx = parseDialplan(
    ['[t]', 'exten => _2XX,1,NoOp(2XX)', 'exten => _20X,1,NoOp(20X)', 'exten => 201,1,NoOp(201)', 'exten => _[p]!,1,NoOp(any)', 'exten => p5,1,NoOp(p5)', 'exten => _X.,1,NoOp(X.)'].join('\n'),
  ).get('t')!;
  const both = (exten: string) => [findExtension(ctx, exten)?.name, findExtensionTrie(ctx, exten)?.name];
  assert.equal(both('201'), ['201', '201']);
  assert.equal(both('202'), ['_20X', '_20X']);
  assert.equal(both('299'), ['_2XX', '_2XX']);
  assert.equal(both('2999'), ['_X.', '_X.']);
  assert.equal(both('p5'), ['p5', 'p5']);
  assert.equal(both('p55'), ['_[p]!', '_[p]!']);
  assert.equal(both('p'), ['_[p]!', '_[p]!']);
  assert.equal(both('q'), [undefined, undefined]);
});

test('EVAL_EXTEN substitutes the Return data without executing anything', () => {
  const pbx = new Pbx('[t]\nexten => x,1,Return(${V}-ok)\n same => n(second),Return(two)');
  const chan = new Channel('c');
  chan.setVar('V', 'val');
  assert.is(pbx.substitute(chan, '${EVAL_EXTEN(t,x,1)}'), 'val-ok');
  assert.is(pbx.substitute(chan, '${EVAL_EXTEN(t,x,second)}'), 'two');
});

test('errors: unknown application or function is an error; a Goto to a missing label hangs the channel up', () => {
  assert.throws(() => routine('exten => s,1,Playback(x)').callRoutine(new Channel('c'), 'sub', 's', 1, []), (e: unknown) => e instanceof InterpreterError);
  assert.throws(() => routine('exten => s,1,Set(x=${SHELL(id)})').callRoutine(new Channel('c'), 'sub', 's', 1, []), (e: unknown) => e instanceof InterpreterError);
  const result = routine('exten => s,1,Goto(nowhere)').callRoutine(new Channel('c'), 'sub', 's', 1, []);
  assert.match(result.hangup ?? '', /must be a number > 0, or valid label/);
  const fellOff = routine('exten => s,1,NoOp()').callRoutine(new Channel('c'), 'sub', 's', 1, []);
  assert.match(fellOff.hangup ?? '', /no priority 2/);
});

test('GotoIf: condition before ?, labels split at :, an empty branch continues', () => {
  const pbx = routine('exten => s,1,GotoIf($[1 = 2]?yes)\n same => n,Set(r=fell-through)\n same => n(yes),Return(${r})');
  const chan = new Channel('c');
  assert.is(pbx.callRoutine(chan, 'sub', 's', 1, []).retval, 'fell-through');
});

test('MixMonitor: the recording is an effect; i(var) receives the id, B(n) is the beep interval', () => {
  const pbx = routine('exten => s,1,MixMonitor(/spool/a.wav,bB(15)i(ID))\n same => n,Return()');
  const chan = new Channel('c');
  pbx.callRoutine(chan, 'sub', 's', 1, []);
  const [mm] = chan.mixMonitors();
  assert.is(mm!.file, '/spool/a.wav');
  assert.is(mm!.beep, 15);
  assert.is(chan.getVar('ID'), mm!.id);
  assert.is(chan.getVar('MIXMONITOR_FILENAME'), '/spool/a.wav');
});

test('the parser refuses what it does not know instead of skipping it', () => {
  assert.throws(() => parseDialplan('[a]\nexten => s,hint,PJSIP/1'), (e: unknown) => e instanceof DialplanSyntaxError);
  assert.throws(() => parseDialplan('exten => s,1,NoOp()'), (e: unknown) => e instanceof DialplanSyntaxError);
  assert.throws(() => parseDialplan('[a]\nexten => s,1,NoOp()\nexten => s,1,NoOp()'), (e: unknown) => e instanceof DialplanSyntaxError);
  assert.throws(() => parseDialplan('[a]\nswitch => Realtime'), (e: unknown) => e instanceof DialplanSyntaxError);
  const ok = parseDialplan('[a]\nexten => s,1,NoOp(a\\;b) ; comment\n');
  assert.is(ok.get('a')!.literals.get('s')!.priorities.get(1)!.data, 'a;b');
});

test.run();
