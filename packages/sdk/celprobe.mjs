import { celEnv } from "@bufbuild/cel";
const env = celEnv({});
for (const n of ["_==_","_&&_","_||_","_?_:_","@not_strictly_false","_[_]","@in","!_","_+_","matches","size","has","startsWith","timestamp","int","dyn","type","_<_","-_","_!=_","contains","exists","duration","getHours", "string"]) console.log(n, env.funcs.find(n) !== undefined);
