/**
 * Population tables and zh-CN localisation for region `cn` (`medlake synth --region cn`):
 * age/sex structure and ethnic groups from China's 7th National Population Census (2020),
 * provinces and cities with census weights, Chinese names with pinyin, and zh-CN displays
 * for every code the generator emits. Sources: docs/synth-region-cn.md.
 */
import type { ConditionKey } from './conditions.js';
import type { Sex } from './demographics.js';
import { cumulative } from './random.js';
import type { Random } from './random.js';
import type { JsonResource } from './shared-resources.js';

// ---------------------------------------------------------------------------------------
// Age and sex
// ---------------------------------------------------------------------------------------

/**
 * China 7th National Population Census (2020), resident population of the 31 provinces by
 * 5-year age band and sex, millions (0.01), same bands as AGE_BANDS (85+ last): [male,
 * female]. Source: 中国人口普查年鉴-2020, 表 3-1 "全国分年龄、性别的人口" (1,409.78 M; the
 * 2.0 M active servicemen, whose ages are not published, are not in it). Band sums equal
 * Communiqué No. 5 (0-14: 253.38 M, 60-64: 73.38 M, 65+: 190.64 M, 80+: 35.80 M).
 */
export const CN_CENSUS_2020_MILLIONS: readonly (readonly [number, number])[] = [
  [40.97, 36.91],
  [47.97, 42.27],
  [45.7, 39.56],
  [39.11, 33.58],
  [40.06, 34.88],
  [47.8, 44.05],
  [63.59, 60.56],
  [50.83, 48.18],
  [47.72, 45.45],
  [58.23, 55.99],
  [61.33, 59.83],
  [50.85, 50.34],
  [36.78, 36.6],
  [36.51, 37.44],
  [24.15, 25.43],
  [14.79, 16.52],
  [9.11, 11.24],
  [5.97, 9.48],
];

/** Cumulative weights over (band × sex) cells, cell = band * 2 + sexIndex (as AGE_SEX_CUMULATIVE). */
export const CN_AGE_SEX_CUMULATIVE: number[] = cumulative(
  CN_CENSUS_2020_MILLIONS.flatMap((c) => [c[0], c[1]]),
);

// ---------------------------------------------------------------------------------------
// Ethnic groups (民族)
// ---------------------------------------------------------------------------------------

export interface CnEthnicGroup {
  /** GB/T 3304-1991 two-digit numeric code ("97" = 其他, see docs). */
  readonly code: string;
  /** Chinese name, as displayed (e.g. 汉族). */
  readonly display: string;
  readonly english: string;
}

/**
 * GB/T 3304-1991 (中国各民族名称的罗马字母拼写法和代码) as used in China's health data
 * standards: the code system OID of 民族类别代码表 in WS 364 / the CDA specifications.
 */
export const CN_ETHNICITY_SYSTEM = 'urn:oid:2.16.156.10011.2.3.3.3';
/** medlake-defined extension on Patient: valueCoding from CN_ETHNICITY_SYSTEM. */
export const CN_ETHNICITY_EXTENSION_URL =
  'https://medlake.org/fhir/StructureDefinition/cn-ethnicity';

/**
 * Census 2020 population by ethnic group, millions (中国人口普查年鉴-2020, 表 2-1; Han
 * 1,286.31 M = 91.11% of 1,411.78 M): the 18 minorities above 1 M, then `other` for the
 * other 37 groups, the unidentified and naturalised citizens (8.09 M).
 */
const ETHNIC_TABLE: readonly (readonly [CnEthnicGroup, number])[] = [
  [{ code: '01', display: '汉族', english: 'Han' }, 1286.31],
  [{ code: '08', display: '壮族', english: 'Zhuang' }, 19.57],
  [{ code: '05', display: '维吾尔族', english: 'Uyghur' }, 11.77],
  [{ code: '03', display: '回族', english: 'Hui' }, 11.38],
  [{ code: '06', display: '苗族', english: 'Miao' }, 11.07],
  [{ code: '11', display: '满族', english: 'Manchu' }, 10.42],
  [{ code: '07', display: '彝族', english: 'Yi' }, 9.83],
  [{ code: '15', display: '土家族', english: 'Tujia' }, 9.59],
  [{ code: '04', display: '藏族', english: 'Tibetan' }, 7.06],
  [{ code: '02', display: '蒙古族', english: 'Mongol' }, 6.29],
  [{ code: '09', display: '布依族', english: 'Buyei' }, 3.58],
  [{ code: '12', display: '侗族', english: 'Dong' }, 3.5],
  [{ code: '13', display: '瑶族', english: 'Yao' }, 3.31],
  [{ code: '14', display: '白族', english: 'Bai' }, 2.09],
  [{ code: '16', display: '哈尼族', english: 'Hani' }, 1.73],
  [{ code: '10', display: '朝鲜族', english: 'Korean' }, 1.7],
  [{ code: '19', display: '黎族', english: 'Li' }, 1.6],
  [{ code: '17', display: '哈萨克族', english: 'Kazakh' }, 1.56],
  [{ code: '18', display: '傣族', english: 'Dai' }, 1.33],
  [{ code: '97', display: '其他', english: 'Other' }, 8.09],
];

export const CN_ETHNIC_GROUPS: readonly CnEthnicGroup[] = ETHNIC_TABLE.map(([g]) => g);
/** Running sums of the groups' census populations (millions). */
export const CN_ETHNIC_CUMULATIVE: number[] = cumulative(ETHNIC_TABLE.map(([, n]) => n));

/** Patient.extension carrying the ethnic group. */
export function cnEthnicityExtension(g: CnEthnicGroup): {
  url: string;
  valueCoding: { system: string; code: string; display: string };
} {
  return {
    url: CN_ETHNICITY_EXTENSION_URL,
    valueCoding: { system: CN_ETHNICITY_SYSTEM, code: g.code, display: g.display },
  };
}

// ---------------------------------------------------------------------------------------
// Places
// ---------------------------------------------------------------------------------------

export interface CnPlace {
  /** Province-level division (省/自治区/直辖市). */
  readonly province: string;
  readonly city: string;
  readonly district: string;
  /** The city's (or district's) principal 6-digit postal code. */
  readonly postalCode: string;
  /** Share of the province's census population (millions) this place stands for. */
  readonly weight: number;
}

/**
 * Census 2020 resident population by province, millions (Communiqué No. 3), with one to
 * three cities each as 'city district postal-code'; a province's weight is split evenly
 * between its cities.
 */
// prettier-ignore
const PROVINCES: readonly (readonly [string, number, readonly string[]])[] = [
  ['北京市', 21.89, ['北京市 朝阳区 100020', '北京市 海淀区 100080']],
  ['天津市', 13.87, ['天津市 和平区 300041']],
  ['河北省', 74.61, ['石家庄市 长安区 050000', '唐山市 路北区 063000', '保定市 竞秀区 071000']],
  ['山西省', 34.92, ['太原市 小店区 030000']],
  ['内蒙古自治区', 24.05, ['呼和浩特市 新城区 010000', '包头市 昆都仑区 014010']],
  ['辽宁省', 42.59, ['沈阳市 和平区 110000', '大连市 中山区 116000']],
  ['吉林省', 24.07, ['长春市 朝阳区 130000']],
  ['黑龙江省', 31.85, ['哈尔滨市 南岗区 150000']],
  ['上海市', 24.87, ['上海市 浦东新区 200120', '上海市 徐汇区 200030']],
  ['江苏省', 84.75, ['南京市 玄武区 210000', '苏州市 姑苏区 215000', '徐州市 鼓楼区 221000']],
  ['浙江省', 64.57, ['杭州市 西湖区 310000', '宁波市 海曙区 315000', '温州市 鹿城区 325000']],
  ['安徽省', 61.03, ['合肥市 蜀山区 230000', '阜阳市 颍州区 236000']],
  ['福建省', 41.54, ['福州市 鼓楼区 350000', '厦门市 思明区 361000']],
  ['江西省', 45.19, ['南昌市 东湖区 330000', '赣州市 章贡区 341000']],
  ['山东省', 101.53, ['济南市 历下区 250000', '青岛市 市南区 266000', '临沂市 兰山区 276000']],
  ['河南省', 99.37, ['郑州市 金水区 450000', '洛阳市 西工区 471000', '南阳市 卧龙区 473000']],
  ['湖北省', 57.75, ['武汉市 武昌区 430000', '襄阳市 襄城区 441000']],
  ['湖南省', 66.44, ['长沙市 岳麓区 410000', '衡阳市 蒸湘区 421000']],
  ['广东省', 126.01, ['广州市 天河区 510000', '深圳市 南山区 518000', '佛山市 禅城区 528000']],
  ['广西壮族自治区', 50.13, ['南宁市 青秀区 530000', '柳州市 城中区 545000']],
  ['海南省', 10.08, ['海口市 龙华区 570000']],
  ['重庆市', 32.05, ['重庆市 渝中区 400000', '重庆市 万州区 404000']],
  ['四川省', 83.67, ['成都市 武侯区 610000', '绵阳市 涪城区 621000']],
  ['贵州省', 38.56, ['贵阳市 南明区 550000', '遵义市 汇川区 563000']],
  ['云南省', 47.21, ['昆明市 五华区 650000', '曲靖市 麒麟区 655000']],
  ['西藏自治区', 3.65, ['拉萨市 城关区 850000']],
  ['陕西省', 39.53, ['西安市 雁塔区 710000']],
  ['甘肃省', 25.02, ['兰州市 城关区 730000']],
  ['青海省', 5.92, ['西宁市 城东区 810000']],
  ['宁夏回族自治区', 7.2, ['银川市 兴庆区 750000']],
  ['新疆维吾尔自治区', 25.85, ['乌鲁木齐市 天山区 830000', '喀什地区 喀什市 844000']],
];

export const CN_PLACES: readonly CnPlace[] = PROVINCES.flatMap(([province, millions, cities]) =>
  cities.map((c) => {
    const [city, district, postalCode] = c.split(' ') as [string, string, string];
    return { province, city, district, postalCode, weight: millions / cities.length };
  }),
);
export const CN_PLACE_CUMULATIVE: number[] = cumulative(CN_PLACES.map((p) => p.weight));

/** Common street names; a house number 1–300 and 号 complete the line. */
export const CN_STREET_NAMES: readonly string[] = [
  '人民路',
  '解放路',
  '中山路',
  '建国路',
  '和平路',
  '胜利路',
  '文化路',
  '新华路',
  '建设路',
  '长江路',
  '朝阳路',
  '光明路',
  '幸福路',
  '团结路',
  '东风路',
  '青年路',
];

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/**
 * The 100 most common surnames in rank order with their approximate share of the
 * population, percent (Ministry of Public Security household-register name reports,
 * 2019–2020; see docs), and pinyin without tone marks (吕 as Lyu, the passport spelling).
 */
// prettier-ignore
const SURNAMES: readonly (readonly [string, string, number])[] = [
  ['王', 'Wang', 7.12], ['李', 'Li', 7.0], ['张', 'Zhang', 6.74], ['刘', 'Liu', 5.1],
  ['陈', 'Chen', 4.61], ['杨', 'Yang', 3.22], ['黄', 'Huang', 2.45], ['赵', 'Zhao', 2.19],
  ['吴', 'Wu', 2.05], ['周', 'Zhou', 1.92], ['徐', 'Xu', 1.45], ['孙', 'Sun', 1.38],
  ['马', 'Ma', 1.29], ['朱', 'Zhu', 1.26], ['胡', 'Hu', 1.16], ['郭', 'Guo', 1.13],
  ['何', 'He', 1.06], ['林', 'Lin', 1.0], ['高', 'Gao', 1.0], ['罗', 'Luo', 0.95],
  ['郑', 'Zheng', 0.88], ['梁', 'Liang', 0.86], ['谢', 'Xie', 0.76], ['宋', 'Song', 0.7],
  ['唐', 'Tang', 0.7], ['许', 'Xu', 0.66], ['韩', 'Han', 0.64], ['邓', 'Deng', 0.62],
  ['冯', 'Feng', 0.62], ['曹', 'Cao', 0.6], ['彭', 'Peng', 0.58], ['曾', 'Zeng', 0.57],
  ['肖', 'Xiao', 0.56], ['田', 'Tian', 0.53], ['董', 'Dong', 0.52], ['潘', 'Pan', 0.5],
  ['袁', 'Yuan', 0.5], ['蔡', 'Cai', 0.48], ['蒋', 'Jiang', 0.48], ['余', 'Yu', 0.47],
  ['于', 'Yu', 0.47], ['杜', 'Du', 0.46], ['叶', 'Ye', 0.45], ['程', 'Cheng', 0.44],
  ['魏', 'Wei', 0.43], ['苏', 'Su', 0.43], ['吕', 'Lyu', 0.42], ['丁', 'Ding', 0.42],
  ['任', 'Ren', 0.41], ['卢', 'Lu', 0.4], ['姚', 'Yao', 0.4], ['沈', 'Shen', 0.39],
  ['钟', 'Zhong', 0.39], ['姜', 'Jiang', 0.38], ['崔', 'Cui', 0.37], ['谭', 'Tan', 0.36],
  ['陆', 'Lu', 0.36], ['范', 'Fan', 0.35], ['汪', 'Wang', 0.35], ['廖', 'Liao', 0.34],
  ['石', 'Shi', 0.34], ['金', 'Jin', 0.33], ['韦', 'Wei', 0.32], ['贾', 'Jia', 0.32],
  ['夏', 'Xia', 0.31], ['付', 'Fu', 0.31], ['方', 'Fang', 0.31], ['邹', 'Zou', 0.3],
  ['熊', 'Xiong', 0.3], ['白', 'Bai', 0.3], ['孟', 'Meng', 0.29], ['秦', 'Qin', 0.29],
  ['邱', 'Qiu', 0.28], ['侯', 'Hou', 0.28], ['江', 'Jiang', 0.28], ['尹', 'Yin', 0.27],
  ['薛', 'Xue', 0.27], ['闫', 'Yan', 0.26], ['段', 'Duan', 0.26], ['雷', 'Lei', 0.26],
  ['龙', 'Long', 0.25], ['黎', 'Li', 0.25], ['史', 'Shi', 0.25], ['陶', 'Tao', 0.24],
  ['贺', 'He', 0.24], ['毛', 'Mao', 0.24], ['郝', 'Hao', 0.23], ['顾', 'Gu', 0.23],
  ['龚', 'Gong', 0.23], ['邵', 'Shao', 0.22], ['万', 'Wan', 0.22], ['覃', 'Qin', 0.22],
  ['武', 'Wu', 0.21], ['钱', 'Qian', 0.21], ['戴', 'Dai', 0.21], ['严', 'Yan', 0.21],
  ['莫', 'Mo', 0.2], ['孔', 'Kong', 0.2], ['向', 'Xiang', 0.2], ['常', 'Chang', 0.2],
];

export interface CnSurname {
  readonly hanzi: string;
  readonly pinyin: string;
  /** Approximate share of the population, percent. */
  readonly percent: number;
}
export const CN_SURNAMES: readonly CnSurname[] = SURNAMES.map(([hanzi, pinyin, percent]) => ({
  hanzi,
  pinyin,
  percent,
}));
export const CN_SURNAME_CUMULATIVE: number[] = cumulative(CN_SURNAMES.map((s) => s.percent));

/** Characters common in given names, by sex, with their pinyin syllable (no tone marks). */
// prettier-ignore
export const CN_GIVEN_CHARACTERS: Readonly<Record<Sex, readonly (readonly [string, string])[]>> = {
  male: [
    ['伟', 'wei'], ['强', 'qiang'], ['磊', 'lei'], ['军', 'jun'], ['勇', 'yong'], ['杰', 'jie'],
    ['涛', 'tao'], ['斌', 'bin'], ['超', 'chao'], ['明', 'ming'], ['浩', 'hao'], ['宇', 'yu'],
    ['鹏', 'peng'], ['俊', 'jun'], ['辉', 'hui'], ['刚', 'gang'], ['文', 'wen'], ['华', 'hua'],
    ['建', 'jian'], ['国', 'guo'], ['志', 'zhi'], ['子', 'zi'], ['轩', 'xuan'], ['博', 'bo'],
    ['晨', 'chen'], ['凯', 'kai'], ['毅', 'yi'], ['峰', 'feng'], ['鑫', 'xin'], ['宏', 'hong'],
    ['海', 'hai'], ['波', 'bo'], ['东', 'dong'], ['林', 'lin'], ['平', 'ping'], ['睿', 'rui'],
    ['泽', 'ze'], ['航', 'hang'], ['天', 'tian'], ['嘉', 'jia'], ['安', 'an'], ['成', 'cheng'],
  ],
  female: [
    ['芳', 'fang'], ['娜', 'na'], ['敏', 'min'], ['静', 'jing'], ['丽', 'li'], ['艳', 'yan'],
    ['娟', 'juan'], ['霞', 'xia'], ['燕', 'yan'], ['玲', 'ling'], ['婷', 'ting'], ['雪', 'xue'],
    ['慧', 'hui'], ['琳', 'lin'], ['欣', 'xin'], ['怡', 'yi'], ['梓', 'zi'], ['涵', 'han'],
    ['雨', 'yu'], ['萱', 'xuan'], ['佳', 'jia'], ['晶', 'jing'], ['颖', 'ying'], ['洁', 'jie'],
    ['红', 'hong'], ['梅', 'mei'], ['秀', 'xiu'], ['英', 'ying'], ['桂', 'gui'], ['兰', 'lan'],
    ['萍', 'ping'], ['诗', 'shi'], ['可', 'ke'], ['馨', 'xin'], ['悦', 'yue'], ['思', 'si'],
    ['心', 'xin'], ['晓', 'xiao'], ['月', 'yue'], ['安', 'an'], ['文', 'wen'], ['嘉', 'jia'],
  ],
};
/** Share of given names with a single character (most have two). */
export const CN_SINGLE_CHARACTER_GIVEN_SHARE = 0.15;

/**
 * Joins pinyin syllables into one word as GB/T 28039-2011 writes names: first letter
 * capitalised, an apostrophe before a syllable starting with a, o or e (Jia'an).
 */
export function joinPinyin(syllables: readonly string[]): string {
  const word = syllables.map((s, i) => (i > 0 && /^[aoe]/.test(s) ? `'${s}` : s)).join('');
  return word.charAt(0).toUpperCase() + word.slice(1);
}

export interface CnPerson {
  readonly family: string;
  readonly given: string;
  readonly familyPinyin: string;
  readonly givenPinyin: string;
  readonly ethnic: CnEthnicGroup;
  readonly place: CnPlace;
  /** Street and house number, e.g. 建国路88号. */
  readonly street: string;
}

/** Name, ethnic group and address of one person, from `rng` in a fixed order. */
export function drawCnPerson(rng: Random, sex: Sex): CnPerson {
  const surname = CN_SURNAMES[rng.pickCumulative(CN_SURNAME_CUMULATIVE)] as CnSurname;
  const pool = CN_GIVEN_CHARACTERS[sex];
  const first = rng.pick(pool);
  const chars: (readonly [string, string])[] = [first];
  if (!rng.chance(CN_SINGLE_CHARACTER_GIVEN_SHARE)) {
    // A second, different character.
    let second = rng.pick(pool);
    while (second[0] === first[0]) second = rng.pick(pool);
    chars.push(second);
  }
  const ethnic = CN_ETHNIC_GROUPS[rng.pickCumulative(CN_ETHNIC_CUMULATIVE)] as CnEthnicGroup;
  const place = CN_PLACES[rng.pickCumulative(CN_PLACE_CUMULATIVE)] as CnPlace;
  const street = `${rng.pick(CN_STREET_NAMES)}${rng.int(1, 300)}号`;
  return {
    family: surname.hanzi,
    given: chars.map((c) => c[0]).join(''),
    familyPinyin: surname.pinyin,
    givenPinyin: joinPinyin(chars.map((c) => c[1])),
    ethnic,
    place,
    street,
  };
}

/** ISO 21090 name representation: IDE = ideographic (汉字), ABC = alphabetic (pinyin). */
export const NAME_REPRESENTATION_EXTENSION_URL =
  'http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation';

/**
 * Patient.name for a person: the official name in characters (family name first in
 * `text`), then the same name in pinyin, both `official` and told apart by the ISO 21090
 * representation extension (IDE / ABC), as the R4 core extension intends.
 */
export function cnPatientNames(p: CnPerson): unknown[] {
  const representation = (code: 'IDE' | 'ABC'): unknown[] => [
    { url: NAME_REPRESENTATION_EXTENSION_URL, valueCode: code },
  ];
  return [
    {
      extension: representation('IDE'),
      use: 'official',
      text: `${p.family}${p.given}`,
      family: p.family,
      given: [p.given],
    },
    {
      extension: representation('ABC'),
      use: 'official',
      text: `${p.familyPinyin} ${p.givenPinyin}`,
      family: p.familyPinyin,
      given: [p.givenPinyin],
    },
  ];
}

/** Patient.address for a person (Chinese order in `text`: province, city, district, street). */
export function cnAddress(p: CnPerson): Record<string, unknown> {
  const { province, city, district, postalCode } = p.place;
  // In the municipalities the province and the city are the same name; written once.
  const head = province === city ? province : `${province}${city}`;
  return {
    use: 'home',
    text: `${head}${district}${p.street}`,
    line: [p.street],
    city,
    district,
    state: province,
    postalCode,
    country: 'CN',
  };
}

// ---------------------------------------------------------------------------------------
// Disease rates
// ---------------------------------------------------------------------------------------

/**
 * Multipliers on the (US) incidence tables of chronic conditions for a Chinese
 * population: ratio of published adult prevalence in China to that in the US (crude; the
 * two populations have similar median ages). Reasoning and sources: docs/synth-region-cn.md.
 */
export const CN_CONDITION_FACTORS: Readonly<Partial<Record<ConditionKey, number>>> = {
  hypertension: 0.8,
  diabetes: 1.0,
  asthma: 0.55,
  depression: 0.2,
  ckd: 0.7,
  heartFailure: 0.55,
};

// ---------------------------------------------------------------------------------------
// zh-CN displays
// ---------------------------------------------------------------------------------------

const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const LOINC = 'http://loinc.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const THO = 'http://terminology.hl7.org/CodeSystem/';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const CVX = 'http://hl7.org/fhir/sid/cvx';
const MEDDRA = 'http://terminology.hl7.org/CodeSystem/mdr';
const SOPT = 'https://nahdo.org/sopt';
const C4BB = 'http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication';
const MEDLAKE_CS = 'https://medlake.org/fhir/CodeSystem/';

/**
 * zh-CN display by `system|code`. To add a code, add one line here (the test lists every
 * code a synth run emits that is missing).
 */
export const CN_DISPLAYS: Readonly<Record<string, string>> = {
  // Conditions: SNOMED CT, then ICD-10-CM (wording of the Chinese ICD-10 edition).
  [`${SNOMED}|59621000`]: '原发性高血压',
  [`${ICD10}|I10`]: '原发性高血压',
  [`${SNOMED}|702927004`]: '急症门诊',
  [`${SNOMED}|254637007`]: '非小细胞肺癌',
  [`${ICD10}|C34.90`]: '支气管或肺恶性肿瘤，未特指',
  [`${SNOMED}|254837009`]: '乳腺恶性肿瘤',
  [`${ICD10}|C50.919`]: '乳腺恶性肿瘤，未特指',
  [`${SNOMED}|363406005`]: '结肠恶性肿瘤',
  [`${ICD10}|C18.9`]: '结肠恶性肿瘤，未特指',
  [`${SNOMED}|44054006`]: '2型糖尿病',
  [`${ICD10}|E11.9`]: '2型糖尿病，不伴有并发症',
  [`${SNOMED}|6142004`]: '流行性感冒',
  [`${ICD10}|J11.1`]: '流行性感冒伴有其他呼吸道表现，病毒未标明',
  [`${SNOMED}|55822004`]: '高脂血症',
  [`${ICD10}|E78.5`]: '高脂血症，未特指',
  [`${SNOMED}|195967001`]: '哮喘',
  [`${ICD10}|J45.909`]: '哮喘，未特指，无并发症',
  [`${SNOMED}|13645005`]: '慢性阻塞性肺疾病',
  [`${ICD10}|J44.9`]: '慢性阻塞性肺疾病，未特指',
  [`${SNOMED}|35489007`]: '抑郁症',
  [`${ICD10}|F32.9`]: '重度抑郁障碍，单次发作，未特指',
  [`${SNOMED}|709044004`]: '慢性肾脏病',
  [`${ICD10}|N18.9`]: '慢性肾脏病，未特指',
  [`${SNOMED}|84114007`]: '心力衰竭',
  [`${ICD10}|I50.9`]: '心力衰竭，未特指',
  [`${SNOMED}|22298006`]: '心肌梗死',
  [`${ICD10}|I21.9`]: '急性心肌梗死，未特指',
  [`${SNOMED}|230690007`]: '脑卒中',
  [`${ICD10}|I63.9`]: '脑梗死，未特指',
  [`${SNOMED}|233604007`]: '肺炎',
  [`${ICD10}|J18.9`]: '肺炎，病原体未特指',
  [`${SNOMED}|68566005`]: '尿路感染',
  [`${ICD10}|N39.0`]: '尿路感染，部位未特指',
  [`${SNOMED}|5913000`]: '股骨颈骨折',
  [`${ICD10}|S72.009A`]: '股骨颈骨折，部位未特指，侧别未特指，闭合性骨折，初次就诊',
  // Encounter types (SNOMED CT procedures).
  [`${SNOMED}|410620009`]: '儿童健康检查',
  [`${SNOMED}|162673000`]: '一般健康体检',
  [`${SNOMED}|185347001`]: '因病就诊',
  [`${SNOMED}|50849002`]: '急诊就诊',
  [`${SNOMED}|32485007`]: '入院',
  [`${SNOMED}|305351004`]: '入住重症监护病房',
  // Routes, allergy reactions.
  [`${SNOMED}|26643006`]: '口服',
  [`${SNOMED}|447694001`]: '经呼吸道给药',
  [`${SNOMED}|247472004`]: '风团',
  [`${SNOMED}|271807003`]: '皮疹',
  // Laboratory (LOINC) and vital signs.
  [`${LOINC}|2339-0`]: '血葡萄糖',
  [`${LOINC}|2160-0`]: '血肌酐',
  [`${LOINC}|62238-1`]: '估算肾小球滤过率（CKD-EPI公式）',
  [`${LOINC}|18262-6`]: '低密度脂蛋白胆固醇（直接测定）',
  [`${LOINC}|718-7`]: '血红蛋白',
  [`${LOINC}|6690-2`]: '白细胞计数',
  [`${LOINC}|777-3`]: '血小板计数',
  [`${LOINC}|89579-7`]: '高敏心肌肌钙蛋白I',
  [`${LOINC}|4548-4`]: '糖化血红蛋白',
  [`${LOINC}|51990-0`]: '基础代谢检查组合',
  [`${LOINC}|57698-3`]: '血脂检查组合（直接测定低密度脂蛋白胆固醇）',
  [`${LOINC}|58410-2`]: '血常规（全血细胞计数）',
  [`${LOINC}|85354-9`]: '血压',
  [`${LOINC}|8480-6`]: '收缩压',
  [`${LOINC}|8462-4`]: '舒张压',
  [`${LOINC}|8867-4`]: '心率',
  [`${LOINC}|39156-5`]: '体重指数',
  // Drugs (RxNorm clinical drugs) and allergy substances (ingredients).
  [`${RXNORM}|314076`]: '赖诺普利片 10 mg',
  [`${RXNORM}|197361`]: '氨氯地平片 5 mg',
  [`${RXNORM}|860975`]: '盐酸二甲双胍缓释片 500 mg',
  [`${RXNORM}|617312`]: '阿托伐他汀片 10 mg',
  [`${RXNORM}|745752`]: '沙丁胺醇吸入气雾剂 0.09 mg/揿',
  [`${RXNORM}|312938`]: '舍曲林片 50 mg',
  [`${RXNORM}|313988`]: '呋塞米片 40 mg',
  [`${RXNORM}|313096`]: '螺内酯片 25 mg',
  [`${RXNORM}|243670`]: '阿司匹林片 81 mg',
  [`${RXNORM}|309362`]: '氯吡格雷片 75 mg',
  [`${RXNORM}|308182`]: '阿莫西林胶囊 250 mg',
  [`${RXNORM}|308460`]: '阿奇霉素片 250 mg',
  [`${RXNORM}|198335`]: '复方磺胺甲噁唑片（磺胺甲噁唑 800 mg/甲氧苄啶 160 mg）',
  [`${RXNORM}|1648755`]: '呋喃妥因胶囊 100 mg（一水合物/大结晶）',
  [`${RXNORM}|7980`]: '青霉素G',
  [`${RXNORM}|10180`]: '磺胺甲噁唑',
  // HL7 terminology (encounter class, categories, participation, dispositions).
  [`${THO}v3-ActCode|AMB`]: '门诊',
  [`${THO}v3-ActCode|EMER`]: '急诊',
  [`${THO}v3-ActCode|IMP`]: '住院',
  [`${THO}v3-ParticipationType|PPRF`]: '主要执行者',
  [`${THO}condition-category|encounter-diagnosis`]: '就诊诊断',
  [`${THO}condition-category|problem-list-item`]: '问题列表项',
  [`${THO}admit-source|emd`]: '来自急诊科',
  [`${THO}v2-0092|R`]: '再次入院',
  [`${THO}discharge-disposition|home`]: '回家',
  [`${THO}discharge-disposition|exp`]: '死亡',
  [`${THO}medicationrequest-category|community`]: '社区',
  [`${THO}medicationrequest-category|outpatient`]: '门诊',
  [`${THO}medicationrequest-category|inpatient`]: '住院',
  [`${THO}observation-category|laboratory`]: '实验室检查',
  [`${THO}observation-category|vital-signs`]: '生命体征',
  [`${THO}v2-0074|LAB`]: '检验',
  [`${THO}organization-type|prov`]: '医疗服务机构',
  [`${THO}v3-RoleCode|HOSP`]: '医院',
  [`${THO}v3-RoleCode|OUTPHARM`]: '门诊机构',
  // Parts (procedures, immunizations, imaging, trial, claims): translated ahead of wiring.
  // Procedures (SNOMED CT).
  [`${SNOMED}|29303009`]: '心电图检查',
  [`${SNOMED}|33367005`]: '冠状动脉造影',
  [`${SNOMED}|415070008`]: '经皮冠状动脉介入治疗',
  [`${SNOMED}|232717009`]: '冠状动脉旁路移植术',
  [`${SNOMED}|426347000`]: '溶栓治疗',
  [`${SNOMED}|386649003`]: '人工股骨头置换术',
  [`${SNOMED}|265132005`]: '股骨近端骨折切开复位钢板螺钉/髓内钉内固定术',
  [`${SNOMED}|52734007`]: '全髋关节置换术',
  [`${SNOMED}|112798008`]: '气管插管',
  [`${SNOMED}|40617009`]: '机械通气',
  [`${SNOMED}|127783003`]: '肺功能检查（肺量计）',
  [`${SNOMED}|715252007`]: '抑郁筛查（PHQ-9量表）',
  [`${SNOMED}|171207006`]: '抑郁筛查',
  [`${SNOMED}|430193006`]: '用药核对',
  [`${SNOMED}|73761001`]: '结肠镜检查',
  // Imaging: procedures, body sites, DICOM modalities, report codes.
  [`${SNOMED}|399208008`]: '胸部X线平片',
  [`${SNOMED}|303653007`]: '头颅CT',
  [`${SNOMED}|816077007`]: '颅脑磁共振成像',
  [`${SNOMED}|783628002`]: '髋部X线平片',
  [`${SNOMED}|306005`]: '肾脏超声检查',
  [`${SNOMED}|24623002`]: '乳腺X线筛查',
  [`${SNOMED}|51185008`]: '胸部',
  [`${SNOMED}|69536005`]: '头部',
  [`${SNOMED}|12738006`]: '脑',
  [`${SNOMED}|24136001`]: '髋关节',
  [`${SNOMED}|64033007`]: '肾',
  [`${SNOMED}|76752008`]: '乳腺',
  [`${DCM}|CR`]: '计算机X线摄影',
  [`${DCM}|DX`]: '数字X线摄影',
  [`${DCM}|CT`]: '计算机断层扫描（CT）',
  [`${DCM}|MR`]: '磁共振',
  [`${DCM}|US`]: '超声',
  [`${DCM}|MG`]: '乳腺X线摄影',
  [`${LOINC}|18748-4`]: '影像学检查报告',
  [`${LOINC}|LP29684-5`]: '放射学',
  [`${THO}v2-0074|RAD`]: '放射',
  [`${THO}v2-0203|ACSN`]: '检查登记号',
  // Immunizations (CVX).
  [`${CVX}|140`]: '流感疫苗（季节性，注射用，无防腐剂）',
  [`${CVX}|115`]: '吸附破伤风白喉无细胞百日咳联合疫苗（Tdap）',
  [`${CVX}|113`]: '吸附破伤风白喉联合疫苗（成人用Td，无防腐剂）',
  [`${CVX}|133`]: '13价肺炎球菌多糖结合疫苗',
  [`${CVX}|33`]: '23价肺炎球菌多糖疫苗',
  [`${CVX}|187`]: '重组带状疱疹疫苗',
  [`${CVX}|208`]: '新型冠状病毒mRNA疫苗（30 μg/0.3 mL，无防腐剂）',
  [`${THO}v2-0443|AP`]: '接种人员',
  // Trial: adverse events (SNOMED CT, MedDRA), study and visit codes.
  [`${SNOMED}|422587007`]: '恶心',
  [`${SNOMED}|62315008`]: '腹泻',
  [`${SNOMED}|302866003`]: '低血糖',
  [`${SNOMED}|25064002`]: '头痛',
  [`${SNOMED}|404640003`]: '头晕',
  [`${SNOMED}|82272006`]: '普通感冒',
  [`${SNOMED}|385055001`]: '片剂',
  [`${MEDDRA}|10028813`]: '恶心',
  [`${MEDDRA}|10012735`]: '腹泻',
  [`${MEDDRA}|10020993`]: '低血糖',
  [`${MEDDRA}|10019211`]: '头痛',
  [`${MEDDRA}|10013573`]: '头晕',
  [`${MEDDRA}|10028810`]: '鼻咽炎',
  [`${THO}adverse-event-outcome|resolved`]: '已缓解',
  [`${THO}adverse-event-seriousness|non-serious`]: '非严重',
  [`${THO}adverse-event-severity|mild`]: '轻度',
  [`${THO}adverse-event-severity|moderate`]: '中度',
  [`${THO}adverse-event-severity|severe`]: '重度',
  [`${THO}research-study-phase|phase-3`]: 'III期',
  [`${THO}research-study-prim-purp-type|treatment`]: '治疗',
  [`${MEDLAKE_CS}investigational-product|MLK-0101-10`]: 'MLK-0101 10 mg 口服片剂',
  [`${MEDLAKE_CS}investigational-product|PLACEBO`]: '安慰剂口服片剂',
  [`${MEDLAKE_CS}trial-endpoint|MACE`]: '主要不良心血管事件',
  ['https://medlake.org/fhir/synth/research-study|MEDLAKE-SYN-001']: 'MEDLAKE-SYN-001 试验',
  // Trial visits: 1 = baseline, n = week 13·(n − 1).
  ...Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [
      `${MEDLAKE_CS}trial-visit|${i + 1}`,
      i === 0 ? '基线' : `第${13 * i}周`,
    ]),
  ),
  // Claims and coverage.
  [`${SOPT}|1`]: '联邦医疗保险（Medicare）',
  [`${SOPT}|2`]: '医疗补助（Medicaid）',
  [`${SOPT}|5`]: '商业健康保险',
  [`${SOPT}|81`]: '自费',
  [`${THO}v3-ActCode|PUBLICPOL`]: '公共医疗保障',
  [`${THO}v3-ActCode|HIP`]: '健康保险计划',
  [`${THO}coverage-selfpay|pay`]: '自付',
  [`${THO}subscriber-relationship|self`]: '本人',
  [`${THO}organization-type|pay`]: '支付方',
  [`${THO}claim-type|institutional`]: '机构',
  [`${THO}claim-type|professional`]: '专业服务',
  [`${THO}claiminformationcategory|info`]: '信息',
  [`${THO}adjudication|submitted`]: '申报金额',
  [`${THO}adjudication|eligible`]: '核定金额',
  [`${THO}adjudication|benefit`]: '支付金额',
  [`${THO}adjudication|copay`]: '定额自付',
  [`${C4BB}|coinsurance`]: '共付比例金额',
  [`${C4BB}|memberliability`]: '参保人自付金额',
  // US OMB race and ethnicity (only in region us output; translated for completeness).
  [`${OMB}|2106-3`]: '白人',
  [`${OMB}|2054-5`]: '黑人或非裔美国人',
  [`${OMB}|2028-9`]: '亚裔',
  [`${OMB}|1002-5`]: '美洲印第安人或阿拉斯加原住民',
  [`${OMB}|2076-8`]: '夏威夷原住民或其他太平洋岛民',
  [`${OMB}|2135-2`]: '西班牙裔或拉丁裔',
  [`${OMB}|2186-5`]: '非西班牙裔或拉丁裔',
  // GB/T 3304 ethnic groups (the display is already Chinese).
  ...Object.fromEntries(
    CN_ETHNIC_GROUPS.map((g) => [`${CN_ETHNICITY_SYSTEM}|${g.code}`, g.display]),
  ),
};

/**
 * zh-CN for free texts by the English text the generator writes: dosage instructions
 * (MedicationRequest.dosageInstruction.text) and CodeableConcept.text that is not a
 * coding's display (imaging study names, coverage types, claim item fallbacks).
 */
export const CN_TEXTS: Readonly<Record<string, string>> = {
  '10 mg by mouth once daily': '口服，每次10 mg，每日1次',
  '5 mg by mouth once daily': '口服，每次5 mg，每日1次',
  '500 mg by mouth once daily with the evening meal': '口服，每次500 mg，每日1次，晚餐时服用',
  '2 puffs inhaled every 4–6 hours as needed for wheezing': '喘息时吸入，每次2揿，每4～6小时1次',
  '50 mg by mouth once daily': '口服，每次50 mg，每日1次',
  '40 mg by mouth once daily': '口服，每次40 mg，每日1次',
  '25 mg by mouth once daily': '口服，每次25 mg，每日1次',
  '81 mg by mouth once daily': '口服，每次81 mg，每日1次',
  '75 mg by mouth once daily': '口服，每次75 mg，每日1次',
  '500 mg (2 capsules) by mouth three times daily for 7 days':
    '口服，每次500 mg（2粒），每日3次，疗程7天',
  '500 mg on day 1, then 250 mg once daily for 4 days':
    '口服，第1天500 mg，之后每次250 mg，每日1次，连用4天',
  '1 tablet by mouth twice daily for 3 days': '口服，每次1片，每日2次，疗程3天',
  '100 mg by mouth twice daily for 5 days': '口服，每次100 mg，每日2次，疗程5天',
  // Imaging studies (imaging.ts) and the claim lines that bill them.
  'XR Chest': '胸部X线',
  'CT Head without contrast': '头颅CT平扫',
  'MR Brain without contrast': '颅脑MRI平扫',
  'XR Hip and Pelvis': '髋关节及骨盆X线',
  'US Kidneys': '双肾超声',
  'MG Screening bilateral': '双侧乳腺X线筛查',
  'Screening for malignant neoplasm of breast': '乳腺恶性肿瘤筛查',
  // Coverage types and claim item fallbacks (claims.ts).
  Medicare: '联邦医疗保险（Medicare）',
  Medicaid: '医疗补助（Medicaid）',
  'Private health insurance': '商业健康保险',
  'Self-pay': '自费',
  Payer: '支付方',
  Procedure: '操作',
  Immunization: '预防接种',
  Medication: '药品',
  'Laboratory report': '检验报告',
  'Imaging study': '影像检查',
};

const DISPLAY_MAP: ReadonlyMap<string, string> = new Map(Object.entries(CN_DISPLAYS));
const TEXT_MAP: ReadonlyMap<string, string> = new Map(Object.entries(CN_TEXTS));

/** zh-CN display for a code used by the generator; undefined if not translated. */
export function cnDisplay(system: string, code: string): string | undefined {
  return DISPLAY_MAP.get(`${system}|${code}`);
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The zh-CN display of a Coding-shaped object, if it is one and is translated. */
function codingTranslation(c: JsonObject): string | undefined {
  const { system, code } = c;
  return typeof system === 'string' && typeof code === 'string'
    ? DISPLAY_MAP.get(`${system}|${code}`)
    : undefined;
}

function localize(value: unknown, key: string): void {
  if (Array.isArray(value)) {
    for (const v of value) localize(v, key);
    return;
  }
  if (!isObject(value)) return;
  // CodeableConcept: text that repeats a coding's English display follows its translation.
  const coding = value['coding'];
  if (Array.isArray(coding) && typeof value['text'] === 'string') {
    for (const c of coding) {
      if (!isObject(c) || c['display'] !== value['text']) continue;
      const zh = codingTranslation(c);
      if (zh !== undefined) {
        value['text'] = zh;
        break;
      }
    }
  }
  // Coding: display only; system and code stay.
  if (typeof value['display'] === 'string') {
    const zh = codingTranslation(value);
    if (zh !== undefined) value['display'] = zh;
  }
  // Free text: dosage instructions and concepts' texts (with codings, or text alone).
  const text = value['text'];
  if (
    typeof text === 'string' &&
    (key === 'dosageInstruction' || Array.isArray(coding) || Object.keys(value).length === 1)
  ) {
    const zh = TEXT_MAP.get(text);
    if (zh !== undefined) value['text'] = zh;
  }
  for (const [k, v] of Object.entries(value))
    if (v !== null && typeof v === 'object') localize(v, k);
}

/**
 * Replaces, in place, every Coding.display with its zh-CN translation (and
 * CodeableConcept.text when it equals the English display of one of its codings, and the
 * free texts of CN_TEXTS), everywhere inside the resource; codes and systems stay.
 */
export function localizeResource(r: JsonResource): void {
  localize(r, '');
}
